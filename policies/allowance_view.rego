# The allowance view: what a user may launch and how much of each quota that
# applies to them is in use, for the spawn page's panel and jhpolicy's REST
# endpoint. It reads the same data through the same rules as the decision,
# for the decision's input with an empty request, so the two cannot drift.
# It names no other user and no server: group and hub usage are totals.
package jupyterhub.spawn

import data.jupyterhub.spawn.allowances
import data.jupyterhub.spawn.data_checks
import data.jupyterhub.spawn.given
import data.jupyterhub.spawn.images
import data.jupyterhub.spawn.lifetimes
import data.jupyterhub.spawn.profiles
import data.jupyterhub.spawn.quotas
import data.jupyterhub.spawn.resources

# METADATA
# title: allowance_view
# description: |
#   What the user may launch and how much is in use, for the spawn page and
#   GET /hub/api/jhpolicy/allowance (opa_allowance_path), judging the
#   candidates in input.candidates. Fails closed: no view rather than a wrong one.
# entrypoint: true
default allowance_view := {"available": false, "message": "the spawn policy could not describe your allowance"}

# The admin's data that governs this user is malformed: no view, saying where.
allowance_view := {"available": false, "message": data_checks.misconfigured_message}

allowance_view := {
	"available": true,
	"sources": sort(object.keys(allowances.entries)),
	"images": array.slice(images.sorted_globs, 0, _view_list_limit),
	"images_total": count(images.sorted_globs),
	"repositories": array.slice(_sorted_repositories, 0, _view_list_limit),
	"repositories_total": images.repository_count,
	"max": {key: resources.maximum[[key]] | some key in given.numeric_keys},
	"extra_resources": {name: n | some ["extra_resources", name], n in resources.maximum},
	"profiles": sort({p | some entry in allowances.entries; some p in entry.profiles}),
	"quotas": _quota_view,
	"lifetimes": _view_lifetimes,
	"candidates": _candidate_judgements,
} if {
	not data_checks.misconfigured_message
	count(allowances.entries) > 0
}

# Long allowlists are cut here and counted, so the view stays small.
_view_list_limit := 20

_sorted_repositories := sort(images.listed_repositories)

# How long the user's servers may live: one holding no extended resource,
# and one holding each resource a lifetime rule names, by the decision's own
# rule (lifetime_for).
_view_lifetimes := {
	"servers": lifetimes.lifetime_for(set()),
	"extra_resources": {resource: lifetimes.lifetime_for({resource}) | some resource, _ in given.lifetime_rules},
}

# Every quota amount that applies to the user, with what is in use and left:
# the user's own first, then per group, then the hub's.
_quota_view := [keyed[3] | some keyed in sort(_keyed_quota_rows)]

# Each row's quota, in use and left, by the decision's own rules for every
# amount its quota sets (scope.paths; quotas.quota_amount and quotas.left:
# what a spawn may take). The quota's extra_resources key is no amount:
# quota_amount is undefined for ["extra_resources"], and so is its row.
_keyed_quota_rows contains keyed if {
	some scope in _view_scopes
	some path in scope.paths
	keyed := _keyed_row(scope, path)
}

# A row, keyed to sort by its scope's rank, its group and its resource.
_keyed_row(scope, path) := [rank, scope.group, resource, {
	"scope": scope.kind, "group": scope.group, "resource": resource,
	"quota": quotas.quota_amount(scope, path), "in_use": quotas.in_use_amount(scope, path),
	"left": max({0, quotas.left(scope, path)}),
}] if {
	resource := path[count(path) - 1]
	some rank, kind in _scope_order
	kind == scope.kind
}

_scope_order := ["user", "member", "group", "hub"]

# The user's and the hub's quotas, and each of the user's pools that has one.
_view_scopes := quotas.scopes(null) | {scope |
	some group in allowances.charge_groups
	some scope in quotas.group_scopes(group)
}

# The spawn page's candidates (input.candidates, each one profile, or one
# choice of a profile's option, as the request, pod and sources that spawn
# would have): each judged by what refuses a decision (refusal, spawn.rego),
# so what the page offers is what a spawn gets, without working out the
# values an allowed one would get (most of a decision's time). In the same
# order; one without those three is left out, and the spawner then trusts
# none of the judgements.
_candidate_judgements := [judgement |
	some candidate in object.get(input, "candidates", [])
	judgement := _judge(candidate)
]

# A profile the user may not select is refused whatever else it holds
# (profiles.rego): said so without judging the rest.
_judge(candidate) := {"allow": false, "message": profiles.refusal_of(candidate.request)} if {
	is_string(candidate.request.profile)
	not profiles.allowed(candidate.request.profile)
} else := object.union(
	{"allow": count(outcome.refused) == 0, "message": concat("; ", outcome.refused)},
	_judged_help(outcome, problems),
) if {
	spawn := {"request": candidate.request, "pod": candidate.pod, "sources": candidate.sources}

	# object.union merges objects recursively: the base input's own spawn
	# goes first, or a candidate's pod would keep resources of the base's.
	spawn_input := object.union(object.remove(input, ["candidates", "request", "pod", "sources"]), spawn)

	# The data checks found nothing for the view's own input (else there is
	# no view): all a candidate can add is the image_repositories entry its
	# image looks up (candidate_problems); the rest is not checked again.
	problems := data_checks.candidate_problems(object.get(candidate.pod, "image", null))

	# The decision's own rules on the candidate's spawn: the view cannot
	# drift from them. What is of the user alone (allowances, maxima, pools,
	# quotas' scopes) is the same for every candidate: the view's own is
	# given to each, where `with input` alone would have OPA work it out
	# again (every candidate is asked again as a decision in
	# tests/test_view_agrees.py and bench/policy_corpus.py, which must
	# agree). One line: those `with`s only save work, and the Rego mutation
	# gate deletes lines.
	# regal ignore:line-length
	outcome := _outcome with input as spawn_input with data_checks.governing_problems as problems with allowances.entries as allowances.entries with allowances.sources_text as allowances.sources_text with resources.maximum as resources.maximum with quotas.pools as quotas.pools with quotas.pool_scopes as quotas.pool_scopes
}

# A candidate's decision, as far as the page shows it: its refusal and, for
# a refused one, the way to get more (refusal_help; [] where none).
_outcome := {"refused": refusal, "help": [refusal_help | count(refusal) > 0]}

# A refused candidate's way to get more, as its decision would give it
# (the page shows it as a link); none for a misconfigured one.
_judged_help(outcome, problems) := {"help": outcome.help[0]} if {
	count(problems) == 0
} else := {}
