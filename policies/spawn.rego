# METADATA
# title: JupyterHub spawn policy
# description: |
#   Decides which image, CPU, memory and extended resources (GPUs) a user may
#   ask for when starting a server through jhpolicy's PolicyKubeSpawner.
#   Admins configure it through data.jhpolicy (see data.json), not Rego.
#   Contract: decision = {"allow": bool, "overrides": {key: value}, "messages": [string]}.
package jupyterhub.spawn

# Default deny: whatever the input, the answer is a decision, never undefined.
default decision := {
	"allow": false,
	"overrides": {},
	"messages": ["the spawn policy could not decide this request"],
}

decision := {"allow": true, "overrides": overrides, "messages": sort(messages)} if {
	count(denials) == 0
}

decision := {"allow": false, "overrides": {}, "messages": sort(denials)} if {
	count(denials) > 0
}

# The admin's data (data.json); an absent or malformed one grants nothing.
default config := {}

config := data.jhpolicy if is_object(data.jhpolicy)

requested := object.get(input, ["request", "overrides"], {})

# The keys this policy knows how to decide.
handled_keys := {
	"image",
	"cpu_limit", "cpu_guarantee", "mem_limit", "mem_guarantee",
	"extra_resource_limits", "extra_resource_guarantees",
}

# Limit/guarantee pairs: a guarantee is never above its (effective) limit.
limit_of := {
	"cpu_guarantee": "cpu_limit",
	"mem_guarantee": "mem_limit",
}

numeric_keys := {"cpu_limit", "cpu_guarantee", "mem_limit", "mem_guarantee"}

# --- Who gets which allowance -------------------------------------------------
# allowances maps a readable source ("group students") to its data entry.
# A user's allowance is the most generous over all entries that apply.

allowances[name] := entry if {
	some group in input.user.groups
	entry := config.groups[group]
	name := sprintf("group %s", [group])
}

allowances["group default"] := config.groups["default"] if {
	not in_configured_group
}

allowances[name] := entry if {
	input.requester.kind == "service"
	entry := config.requesters.services[input.requester.name]
	name := sprintf("service %s", [input.requester.name])
}

allowances["admins"] := config.requesters.admins if {
	input.requester.admin == true
}

in_configured_group if {
	some group in input.user.groups
	config.groups[group]
}

# --- Reasons to refuse ---------------------------------------------------------

denials contains "unsupported input version: this policy reads jhpolicy input version 1" if {
	not input.version == 1
}

denials contains "you are in no group this hub's spawn policy knows, and it has no default entry" if {
	count(allowances) == 0
}

denials contains msg if {
	some key, _ in requested
	not key in handled_keys
	msg := sprintf("%s cannot be set: this hub lets you choose only %s", [key, concat(", ", sort(handled_keys))])
}

denials contains "request.overrides must be an object" if {
	not is_object(requested)
}

denials contains msg if {
	some key in {"extra_resource_limits", "extra_resource_guarantees"}
	not is_object(requested[key])
	msg := sprintf("%s must be an object of resource name to amount", [key])
}

denials contains msg if {
	some key in numeric_keys
	value := requested[key]
	not is_number(value)
	msg := sprintf("%s must be a number", [key])
}

denials contains msg if {
	some key in numeric_keys
	requested[key]
	not maximum(key)
	msg := sprintf("%s cannot be set: no maximum is configured for %s", [key, sources_text])
}

denials contains msg if {
	image := requested.image
	not image_allowed(image)
	msg := sprintf("image %s is not allowed for %s; allowed images: %s", [image, sources_text, allowed_images_text])
}

denials contains msg if {
	some key in {"extra_resource_limits", "extra_resource_guarantees"}
	some resource, amount in requested[key]
	not extra_maximum(resource)
	msg := sprintf("%s: %s is not available to %s", [key, resource, sources_text])
}

denials contains msg if {
	some key in {"extra_resource_limits", "extra_resource_guarantees"}
	some resource, amount in requested[key]
	not is_number(amount)
	msg := sprintf("%s: %s must be a number", [key, resource])
}

denials contains msg if {
	profile := input.request.profile
	is_string(profile)
	not profile_allowed(profile)
	msg := sprintf("profile %s is not allowed for %s", [profile, sources_text])
}

sources_text := concat(", ", sort(object.keys(allowances))) if {
	count(allowances) > 0
} else := "you"

# --- Images ---------------------------------------------------------------------

# Large allowlists go in image_repositories (repository -> tag globs): a
# direct lookup by the requested image's repository, whatever the list's
# size. images holds glob patterns on the full reference; those are scanned,
# so keep them few.
image_allowed(image) if {
	[repository, tag] := split_image(image)
	some entry in allowances
	some pattern in entry.image_repositories[repository]
	glob.match(pattern, [], tag)
}

image_allowed(image) if {
	some entry in allowances
	some pattern in entry.images
	glob.match(pattern, ["/"], image)
}

# "registry/path/name:tag" -> ["registry/path/name", "tag"]; no tag -> "".
# A reference with a digest (@sha256:...) is matched by images globs only.
split_image(image) := [substring(image, 0, i), substring(image, i + 1, -1)] if {
	not contains(image, "@")
	i := max(indexof_n(image, ":"))
	i > max(array.concat([-1], indexof_n(image, "/")))
} else := [image, ""] if {
	not contains(image, "@")
}

# Named in a refusal: the globs, and how many repositories are listed, so
# the message does not grow with the allowlist.
allowed_images_text := concat("", [globs_text, repositories_text])

globs_text := concat(", ", array.slice(sorted_globs, 0, 10)) if {
	count(sorted_globs) <= 10
} else := sprintf("%s and %d more", [concat(", ", array.slice(sorted_globs, 0, 10)), count(sorted_globs) - 10])

sorted_globs := sort({p | some entry in allowances; some p in entry.images})

repositories_text := "none" if {
	count(sorted_globs) == 0
	repository_count == 0
} else := "" if {
	repository_count == 0
} else := sprintf("%s%d listed repositories", [separator, repository_count])

separator := "" if count(sorted_globs) == 0

else := ", and "

repository_count := sum([count(object.get(entry, "image_repositories", {})) | some entry in allowances])

# --- Profiles -------------------------------------------------------------------

# The profiles the spawn page offers: those of input.profiles this user may select.
visible_profiles := [slug |
	some slug in input.profiles
	profile_allowed(slug)
]

profile_allowed(profile) if {
	some entry in allowances
	some pattern in entry.profiles
	glob.match(pattern, [], profile)
}

# --- CPU and memory ---------------------------------------------------------------

# The most generous maximum for key over all allowances, in cores or bytes.
maximum(key) := max({value |
	some entry in allowances
	value := as_number(key, entry.max[key])
})

as_number(_, value) := value if is_number(value)

as_number(key, value) := units.parse(value) if {
	startswith(key, "cpu_")
	is_string(value)
}

# Memory in data: bytes, "2G" or "2Gi", both 1024-based as in JupyterHub.
as_number(key, value) := units.parse_bytes(concat("", [value, "i"])) if {
	startswith(key, "mem_")
	regex.match(`^[0-9]+(\.[0-9]+)?[KMGT]$`, value)
}

as_number(key, value) := units.parse_bytes(value) if {
	startswith(key, "mem_")
	regex.match(`^[0-9]+(\.[0-9]+)?[KMGT]i$`, value)
}

granted_limit(key) := min([requested[key], maximum(key)])

# What a limit will be once this spawn is applied: the granted value if one
# was requested, else the spawner's current value (may be unset).
effective_limit(key) := granted_limit(key)

effective_limit(key) := input.current[key] if {
	not key in object.keys(requested)
	is_number(input.current[key])
}

granted_guarantee(key) := min([requested[key], maximum(key), effective_limit(limit_of[key])])

granted_guarantee(key) := min([requested[key], maximum(key)]) if {
	not effective_limit(limit_of[key])
}

overrides[key] := value if {
	some key in {"cpu_limit", "mem_limit"}
	value := granted_limit(key)
}

overrides[key] := value if {
	some key in {"cpu_guarantee", "mem_guarantee"}
	value := granted_guarantee(key)
}

overrides["image"] := requested.image if {
	image_allowed(requested.image)
}

# --- Extended resources (GPUs) ------------------------------------------------------

extra_maximum(resource) := max({value |
	some entry in allowances
	value := entry.extra_resources[resource]
	is_number(value)
})

overrides["extra_resource_limits"] := {resource: min([amount, extra_maximum(resource)]) |
	some resource, amount in requested.extra_resource_limits
} if {
	is_object(requested.extra_resource_limits)
}

overrides["extra_resource_guarantees"] := {resource: granted_extra_guarantee(resource, amount) |
	some resource, amount in requested.extra_resource_guarantees
} if {
	is_object(requested.extra_resource_guarantees)
}

granted_extra_guarantee(resource, amount) := min([amount, extra_maximum(resource), limit]) if {
	limit := effective_extra_limit(resource)
} else := min([amount, extra_maximum(resource)])

effective_extra_limit(resource) := overrides.extra_resource_limits[resource]

effective_extra_limit(resource) := input.current.extra_resource_limits[resource] if {
	not resource in object.keys(object.get(requested, "extra_resource_limits", {}))
	is_number(input.current.extra_resource_limits[resource])
}

# --- What the user is told ------------------------------------------------------------

messages contains msg if {
	some key in numeric_keys
	asked := requested[key]
	got := overrides[key]
	got < asked
	msg := sprintf("%s %s lowered to %s: %s", [key, show(key, asked), show(key, got), lowered_because(key, got)])
}

messages contains msg if {
	some key in {"extra_resource_limits", "extra_resource_guarantees"}
	some resource, asked in requested[key]
	got := overrides[key][resource]
	got < asked
	msg := sprintf("%s %s %v lowered to %v: %s", [key, resource, asked, got, extra_lowered_because(resource, got)])
}

lowered_because(key, got) := sprintf("the most for %s", [concat(", ", providers(key, got))]) if {
	got == maximum(key)
} else := sprintf("a guarantee cannot exceed %s", [limit_of[key]])

extra_lowered_because(resource, got) := sprintf("the most for %s", [concat(", ", extra_providers(resource, got))]) if {
	got == extra_maximum(resource)
} else := "a guarantee cannot exceed its limit"

extra_providers(resource, value) := sort({name |
	some name, entry in allowances
	entry.extra_resources[resource] == value
})

# The allowances whose maximum for key is value, to name them to the user.
providers(key, value) := sort({name |
	some name, entry in allowances
	as_number(key, entry.max[key]) == value
})

show(key, value) := sprintf("%vG", [value / 1073741824]) if {
	startswith(key, "mem_")
	whole_multiple(value, 1073741824)
} else := sprintf("%vM", [value / 1048576]) if {
	startswith(key, "mem_")
	whole_multiple(value, 1048576)
} else := sprintf("%v", [value])

whole_multiple(value, unit) if {
	is_number(value)
	round(value) == value
	value % unit == 0
}
