# METADATA
# title: JupyterHub spawn policy
# description: |
#   Decides the image, CPU, memory and extended resources (GPUs) of the pod a
#   spawn would start through jhpolicy's PolicyKubeSpawner: input.pod holds
#   the pod's values as every layer (admin config, group_overrides, profile,
#   profile options, the request) would set them, input.sources where each
#   came from. Admins configure it through data.jhpolicy (see data.json).
#   Contract: decision = {"allow": bool, "overrides": {key: value}, "messages": [string]},
#   overrides being changes to input.pod.
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

pod := object.get(input, "pod", {})

sources := object.get(input, "sources", {})

# The keys this policy knows how to decide.
handled_keys := {
	"image",
	"cpu_limit", "cpu_guarantee", "mem_limit", "mem_guarantee",
	"extra_resource_limits", "extra_resource_guarantees",
}

limit_keys := {"cpu_limit", "mem_limit"}

# Each guarantee and the limit it may not exceed.
limit_of := {
	"cpu_guarantee": "cpu_limit",
	"mem_guarantee": "mem_limit",
}

numeric_keys := {"cpu_limit", "cpu_guarantee", "mem_limit", "mem_guarantee"}

extra_keys := {"extra_resource_limits", "extra_resource_guarantees"}

# Values the user chose rather than the admin: a key needs a configured
# maximum before a user may set it.
user_sources := {"request", "unlisted_choice"}

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

sources_text := concat(", ", sort(object.keys(allowances))) if {
	count(allowances) > 0
} else := "you"

# --- Reasons to refuse ---------------------------------------------------------

denials contains "unsupported input version: this policy reads jhpolicy input version 2" if {
	not input.version == 2
}

denials contains "you are in no group this hub's spawn policy knows, and it has no default entry" if {
	count(allowances) == 0
}

denials contains "request.overrides must be an object" if {
	not is_object(requested)
}

# One message for every unknown key, of bounded length whatever was sent.
denials contains msg if {
	count(unknown_keys) > 0
	msg := sprintf(
		"%s cannot be set: this hub lets you choose only %s",
		[keys_text(unknown_keys), concat(", ", sort(handled_keys))],
	)
}

unknown_keys := sort([key | some key, _ in requested; not key in handled_keys])

keys_text(keys) := concat(", ", [short(k) | some k in keys]) if {
	count(keys) <= 5
} else := sprintf("%s and %d more", [concat(", ", [short(k) | some k in array.slice(keys, 0, 5)]), count(keys) - 5])

short(text) := text if {
	count(text) <= 40
} else := sprintf("%s...", [substring(text, 0, 37)])

denials contains msg if {
	some key in numeric_keys
	value := pod[key]
	not is_number(value)
	not is_null(value)
	msg := sprintf("%s must be a number", [key])
}

denials contains msg if {
	some key in limit_keys
	pod[key] == 0
	msg := sprintf("%s 0 would mean no limit; ask for a positive amount", [key])
}

denials contains msg if {
	some key in numeric_keys
	sources[key] in user_sources
	not maximum(key)
	msg := sprintf("%s cannot be set: no maximum is configured for %s", [key, sources_text])
}

# A pod without an image key (a narrowed ceiling) leaves this undefined.
denials contains msg if {
	not image_allowed(pod.image)
	msg := sprintf(
		"image %s%s is not allowed for %s; allowed images: %s",
		[short_image, from_text("image"), sources_text, allowed_images_text],
	)
}

short_image := pod.image if {
	is_string(pod.image)
	count(pod.image) <= 200
} else := sprintf("%s...", [substring(pod.image, 0, 197)]) if {
	is_string(pod.image)
} else := "(not a string)"

denials contains msg if {
	some key in extra_keys
	not is_object(pod[key])
	msg := sprintf("%s must be an object of resource name to amount", [key])
}

denials contains msg if {
	some resource in extra_names
	not extra_maximum(resource)
	msg := sprintf("%s is not available to %s", [resource, sources_text])
}

# Extended resources the pod would hold some of.
extra_names contains resource if {
	some key in extra_keys
	some resource, amount in pod[key]
	amount != 0
}

denials contains msg if {
	some key in extra_keys
	some resource, amount in pod[key]
	not is_number(amount)
	msg := sprintf("%s: %s must be a number", [key, resource])
}

denials contains msg if {
	profile := input.request.profile
	is_string(profile)
	not profile_allowed(profile)
	msg := sprintf("profile %s is not allowed for %s", [profile, sources_text])
}

# Where a value came from, as the user is told; nothing for their own request.
from_text(key) := "" if {
	sources[key] == "request"
} else := sprintf(" (%s)", [source_names[sources[key]]]) if {
	source_names[sources[key]]
} else := ""

source_names := {
	"config": "the hub's default",
	"group_overrides": "your group's settings",
	"profile": "the profile",
	"profile_option": "the profile option",
	"unlisted_choice": "your profile option choice",
	"limit": "its limit",
}

# --- Images ---------------------------------------------------------------------

# Large allowlists go in image_repositories (repository -> tag globs): a
# direct lookup by the image's repository, whatever the list's size. images
# holds glob patterns on the full reference; those are scanned, so keep them
# few. Tags never contain "/", so it is the delimiter for tag globs too:
# with [] glob.match would use ".", and "*" would not match "4.1.0".
image_allowed(image) if {
	[repository, tag] := split_image(image)
	some entry in allowances
	some pattern in entry.image_repositories[repository]
	glob.match(pattern, ["/"], tag)
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

# Slugs never contain "/", so "*" matches any slug, dots included.
profile_allowed(profile) if {
	some entry in allowances
	some pattern in entry.profiles
	glob.match(pattern, ["/"], profile)
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

# A limit: within the maximum; unlimited (null) becomes the maximum.
final_limit(key) := maximum(key) if {
	is_null(pod[key])
} else := min([pod[key], maximum(key)]) if {
	is_number(pod[key])
} else := pod[key] if {
	is_number(pod[key])
}

# A guarantee: within its maximum and its limit. Kubernetes makes a missing
# guarantee equal to the limit, so that is what an unset one is judged as.
asked_guarantee(key) := pod[key] if {
	is_number(pod[key])
} else := final_limit(limit_of[key])

final_guarantee(key) := min(guarantee_bounds(key))

# Whichever of these are defined: no maximum, or no limit, bounds nothing.
guarantee_bounds(key) := ({v | v := asked_guarantee(key)} | {v | v := maximum(key)}) | {v | v := final_limit(limit_of[key])}

overrides[key] := value if {
	some key in limit_keys
	value := final_limit(key)
	value != pod[key]
}

overrides[key] := value if {
	some key in object.keys(limit_of)
	value := final_guarantee(key)
	value != asked_guarantee(key)
}

# --- Extended resources (GPUs) ------------------------------------------------------

extra_maximum(resource) := max({value |
	some entry in allowances
	value := entry.extra_resources[resource]
	is_number(value)
})

overrides[key] := lowered if {
	some key in extra_keys
	lowered := {resource: extra_maximum(resource) |
		some resource, amount in pod[key]
		amount > extra_maximum(resource)
	}
	count(lowered) > 0
}

# --- What the user is told ------------------------------------------------------------

# Values that were set somewhere and lowered. A guarantee nobody set follows
# its limit; lowering it is in the decision, but not worth a message.
messages contains msg if {
	some key in numeric_keys
	got := overrides[key]
	asked := pod[key]
	set_somewhere(key)
	msg := sprintf("%s %s%s lowered to %s: %s", [key, show(key, asked), from_text(key), show(key, got), lowered_because(key, got)])
}

messages contains msg if {
	some key in extra_keys
	some resource, got in overrides[key]
	not sources[key][resource] == "limit"
	asked := pod[key][resource]
	msg := sprintf("%s %s %v%s lowered to %v: the most for %s", [key, resource, asked, extra_from_text(key, resource), got, concat(", ", extra_providers(resource, got))])
}

set_somewhere(key) if {
	key in limit_keys
} else if {
	is_number(pod[key])
	not sources[key] == "limit"
}

extra_from_text(key, resource) := "" if {
	sources[key][resource] == "request"
} else := sprintf(" (%s)", [source_names[sources[key][resource]]]) if {
	source_names[sources[key][resource]]
} else := ""

lowered_because(key, got) := sprintf("the most for %s", [concat(", ", providers(key, got))]) if {
	got == maximum(key)
} else := sprintf("a guarantee cannot exceed %s", [limit_of[key]])

extra_providers(resource, value) := sort({name |
	some name, entry in allowances
	entry.extra_resources[resource] == value
})

# The allowances whose maximum for key is value, to name them to the user.
providers(key, value) := sort({name |
	some name, entry in allowances
	as_number(key, entry.max[key]) == value
})

show(key, value) := "unlimited" if {
	is_null(value)
} else := sprintf("%vG", [value / 1073741824]) if {
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
