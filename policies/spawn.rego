# METADATA
# title: JupyterHub spawn policy
# description: |
#   Decides the image, CPU, memory and extended resources (GPUs) of the pod a
#   spawn would start through jhpolicy's PolicyKubeSpawner: input.pod holds
#   the pod's values as every layer (admin config, group_overrides, profile,
#   profile options, the request) would set them, input.sources where each
#   came from. Admins configure it through data.jhpolicy (see data.json).
#   Contract: decision = {"allow": bool, "overrides": {key: value}, "messages": [string],
#   "charge": group or null, "quota": {...}, "lifetime": {...}}, overrides being
#   changes to input.pod, charge the one group of the user's the server is
#   charged to (quotas.rego), lifetime how long it may live (lifetimes.rego).
#   One package in several files, one concern each: spawn.rego (the decision,
#   the input, the request as a whole), allowances.rego, images.rego,
#   profiles.rego, resources.rego (CPU and memory), extended_resources.rego
#   (GPUs), quotas.rego (what is in use at once), lifetimes.rego (how
#   long a server may live), messages.rego and
#   allowance_view.rego (what a user may launch, for the spawn page and the
#   REST API), each beside its _test.rego. What does not depend on a
#   decision is in library packages it imports (data.jupyterhub.lib.*).
package jupyterhub.spawn

import data.jupyterhub.lib.texts

# METADATA
# title: decision
# description: |
#   The spawn's decision (the contract above): what the hub asks at
#   opa_decision_path. Default deny: whatever the input, the answer is a
#   decision, never undefined.
# entrypoint: true
default decision := {
	"allow": false,
	"overrides": {},
	"messages": ["the spawn policy could not decide this request"],
}

decision := object.union(
	{
		"allow": true,
		"overrides": overrides,
		"messages": sort(messages),
		"charge": charge,
		"quota": charged_quota,
	},
	decided_lifetime,
) if {
	count(denials) == 0
	not misconfigured_message
}

decision := {"allow": false, "overrides": {}, "messages": sort(denials), "reason": denial_reason} if {
	count(denials) > 0
	not misconfigured_message
	not refusal_help
}

# With how to get more, where the admin's data says (messages.rego).
decision := {
	"allow": false, "overrides": {}, "messages": sort(denials),
	"reason": denial_reason, "help": refusal_help,
} if {
	count(denials) > 0
	not misconfigured_message
}

# Data that governs this spawn is malformed (data_checks.rego): refused,
# saying only that and where, with a reason the hub counts apart.
decision := {"allow": false, "overrides": {}, "messages": [misconfigured_message], "reason": "misconfigured"} if {
	misconfigured_message
}

# How long the server may live (lifetimes.rego), when anything decides it.
default decided_lifetime := {}

decided_lifetime := {"lifetime": lifetime} if {
	count(lifetime) > 0
}

# Why the decision refuses this input, as its messages; empty when it
# allows. The spawn page judges what it offers by it (allowance_view.rego).
refusal := [misconfigured_message] if {
	misconfigured_message
} else := sort(denials)

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

# Refusals, by kind: each concern's file adds its own. The kind is the
# refusal's reason (the hub's metrics split refusals by it): a malformed
# input, an image, a profile, a limit (a key or an amount no allowance
# grants), a quota. With several kinds, the first in that order.
denials := (((invalid_denials | image_denials) | profile_denials) | limit_denials) | quota_denials

default denial_reason := "quota"

denial_reason := "invalid" if {
	count(invalid_denials) > 0
} else := "image" if {
	count(image_denials) > 0
} else := "profile" if {
	count(profile_denials) > 0
} else := "limit" if {
	count(limit_denials) > 0
}

invalid_denials contains "unsupported input version: this policy reads jhpolicy input version 2" if {
	not input.version == 2
}

invalid_denials contains "request.overrides must be an object" if {
	not is_object(requested)
}

limit_denials contains "you are in no group this hub's spawn policy knows, and it has no default entry" if {
	count(allowances) == 0
}

# One message for every unknown key, of bounded length whatever was sent.
limit_denials contains msg if {
	count(unknown_keys) > 0
	msg := sprintf(
		"%s cannot be set: this hub lets you choose only %s",
		[texts.keys_text(unknown_keys), concat(", ", sort(handled_keys))],
	)
}

unknown_keys := sort([key | some key, _ in requested; not key in handled_keys])
