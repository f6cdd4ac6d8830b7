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
#   The entry package: the decision, the refusal, the allowance view and
#   the data checks' entry points (spawn.rego, allowance_view.rego). Each
#   step of the decision is a package of its own (jupyterhub.spawn.<step>),
#   one file each, importing only the library and the steps
#   before it (tests/test_policy_layers.py), in this order: given.rego (the
#   input and data.jhpolicy), allowances.rego (which entries apply),
#   data_checks.rego, resources.rego (every amount, CPU, memory or GPUs,
#   under the allowances), quotas.rego (which group a server is charged to,
#   what is in use at once), limits.rego (the values the server gets),
#   lifetimes.rego (how long it may live), messages.rego (what the user is
#   told), images.rego and profiles.rego. What does not depend on a decision
#   is in library packages (data.jupyterhub.lib.*).
package jupyterhub.spawn

import data.jupyterhub.lib.texts
import data.jupyterhub.spawn.allowances
import data.jupyterhub.spawn.data_checks
import data.jupyterhub.spawn.given
import data.jupyterhub.spawn.images
import data.jupyterhub.spawn.lifetimes
import data.jupyterhub.spawn.limits
import data.jupyterhub.spawn.messages
import data.jupyterhub.spawn.profiles
import data.jupyterhub.spawn.quotas
import data.jupyterhub.spawn.resources

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
		"overrides": limits.overrides,
		"messages": sort(messages.lowered),
		"charge": quotas.charge,
		"quota": quotas.charged_quota,
	},
	_decided_lifetime,
) if {
	count(_denials) == 0
	not data_checks.misconfigured_message
}

decision := {"allow": false, "overrides": {}, "messages": sort(_denials), "reason": _denial_reason} if {
	count(_denials) > 0
	not data_checks.misconfigured_message
	not refusal_help
}

# With how to get more, where the admin's data says (refusal_help, below).
decision := {
	"allow": false, "overrides": {}, "messages": sort(_denials),
	"reason": _denial_reason, "help": refusal_help,
} if {
	count(_denials) > 0
	not data_checks.misconfigured_message
}

# Data that governs this spawn is malformed (data_checks.rego): refused,
# saying only that and where, with a reason the hub counts apart.
decision := {
	"allow": false, "overrides": {},
	"messages": [data_checks.misconfigured_message], "reason": "misconfigured",
} if {
	data_checks.misconfigured_message
}

# How long the server may live (lifetimes.rego), when anything decides it.
default _decided_lifetime := {}

_decided_lifetime := {"lifetime": lifetimes.lifetime} if {
	count(lifetimes.lifetime) > 0
}

# Why the decision refuses this input, as its messages; empty when it
# allows. The spawn page judges what it offers by it (allowance_view.rego).
refusal := [data_checks.misconfigured_message] if {
	data_checks.misconfigured_message
} else := sort(_denials)

# Refusals, by kind: each concern's file adds its own. The kind is the
# refusal's reason (the hub's metrics split refusals by it): a malformed
# input, an image, a profile, a limit (a key or an amount no allowance
# grants), a quota. With several kinds, the first in that order.
_denials := (((_invalid | images.denials) | profiles.denials) | _limits) | quotas.denials

# A malformed input: of the request as a whole (below), of a CPU or memory
# amount, of an extended resource.
_invalid := _invalid_denials | resources.invalid_denials

# A key or an amount no allowance grants.
_limits := _limit_denials | resources.limit_denials

default _denial_reason := "quota"

_denial_reason := "invalid" if {
	count(_invalid) > 0
} else := "image" if {
	count(images.denials) > 0
} else := "profile" if {
	count(profiles.denials) > 0
} else := "limit" if {
	count(_limits) > 0
}

_invalid_denials contains "unsupported input version: this policy reads jhpolicy input version 2" if {
	not input.version == 2
}

_invalid_denials contains "request.overrides must be an object" if {
	not is_object(given.requested)
}

_limit_denials contains "you are in no group this hub's spawn policy knows, and it has no default entry" if {
	count(allowances.entries) == 0
}

# One message for every unknown key, of bounded length whatever was sent.
_limit_denials contains msg if {
	count(_unknown_keys) > 0
	msg := sprintf(
		"%s cannot be set: this hub lets you choose only %s",
		[texts.keys_text(_unknown_keys), concat(", ", sort(given.handled_keys))],
	)
}

_unknown_keys := sort([key | some key, _ in given.requested; not key in given.handled_keys])

# How to get more, where the admin's data says so (an allowance's "help"):
# for a quota, the charged group's; otherwise the first of the user's
# allowances, by name, that has one. Undefined where none does.
refusal_help := help if {
	_denial_reason == "quota"
	help := quotas.group_allowance(quotas.charge).help
} else := helps[0] if {
	helps := [e.help | some name in sort(object.keys(allowances.entries)); e := allowances.entries[name]; e.help]
}

# METADATA
# title: visible_profiles
# description: |
#   The slugs of input.profiles the spawn page offers this user
#   (opa_profiles_path), when the allowance view did not judge them all.
# entrypoint: true
visible_profiles := [slug |
	some slug in input.profiles
	profiles.allowed(slug)
]

# METADATA
# title: problems_everywhere
# description: Every problem of data.jhpolicy, wherever it is (jhpolicy lint).
# entrypoint: true
problems_everywhere := data_checks.problems_everywhere
