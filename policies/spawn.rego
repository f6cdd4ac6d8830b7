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
#   One package in several files, one concern each, each beside its
#   _test.rego, read bottom to top: a file uses only its own rules and those
#   of the files before it (tests/test_policy_layers.py). given.rego (the
#   input and data.jhpolicy), allowances.rego (which entries apply),
#   data_checks.rego, resources.rego and extended_resources.rego (the
#   allowances' maxima), quotas.rego (which group a server is charged to,
#   what is in use at once), limits.rego (the values the server gets),
#   lifetimes.rego (how long it may live), messages.rego (what the user is
#   told), images.rego, profiles.rego, spawn.rego (the decision, the request
#   as a whole) and allowance_view.rego (what a user may launch, for the
#   spawn page and the REST API). What does not depend on a decision is in
#   library packages it imports (data.jupyterhub.lib.*).
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
	_decided_lifetime,
) if {
	count(_denials) == 0
	not misconfigured_message
}

decision := {"allow": false, "overrides": {}, "messages": sort(_denials), "reason": _denial_reason} if {
	count(_denials) > 0
	not misconfigured_message
	not refusal_help
}

# With how to get more, where the admin's data says (refusal_help, below).
decision := {
	"allow": false, "overrides": {}, "messages": sort(_denials),
	"reason": _denial_reason, "help": refusal_help,
} if {
	count(_denials) > 0
	not misconfigured_message
}

# Data that governs this spawn is malformed (data_checks.rego): refused,
# saying only that and where, with a reason the hub counts apart.
decision := {"allow": false, "overrides": {}, "messages": [misconfigured_message], "reason": "misconfigured"} if {
	misconfigured_message
}

# How long the server may live (lifetimes.rego), when anything decides it.
default _decided_lifetime := {}

_decided_lifetime := {"lifetime": lifetime} if {
	count(lifetime) > 0
}

# Why the decision refuses this input, as its messages; empty when it
# allows. The spawn page judges what it offers by it (allowance_view.rego).
refusal := [misconfigured_message] if {
	misconfigured_message
} else := sort(_denials)

# Refusals, by kind: each concern's file adds its own. The kind is the
# refusal's reason (the hub's metrics split refusals by it): a malformed
# input, an image, a profile, a limit (a key or an amount no allowance
# grants), a quota. With several kinds, the first in that order.
_denials := (((invalid_denials | image_denials) | profile_denials) | limit_denials) | quota_denials

default _denial_reason := "quota"

_denial_reason := "invalid" if {
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
	count(_unknown_keys) > 0
	msg := sprintf(
		"%s cannot be set: this hub lets you choose only %s",
		[texts.keys_text(_unknown_keys), concat(", ", sort(handled_keys))],
	)
}

_unknown_keys := sort([key | some key, _ in requested; not key in handled_keys])

# How to get more, where the admin's data says so (an allowance's "help"):
# for a quota, the charged group's; otherwise the first of the user's
# allowances, by name, that has one. Undefined where none does.
refusal_help := help if {
	_denial_reason == "quota"
	help := group_allowance(charge).help
} else := helps[0] if {
	helps := [entry.help | some name in sort(object.keys(allowances)); entry := allowances[name]; entry.help]
}
