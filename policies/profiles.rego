# METADATA
# title: Profiles
# description: |
#   Profiles: which of the hub's profiles a user may select, and which the
#   spawn page offers.
package jupyterhub.spawn.profiles

import data.jupyterhub.spawn.allowances

# METADATA
# title: denials
# description: |
#   input.request.profile is the profile the hub applies: the one named, or
#   the hub's default when none was (request.profile_named false). Both are
#   judged: a default profile is no way around the allowlist.
denials contains refusal_of(input.request) if {
	is_string(input.request.profile)
	not allowed(input.request.profile)
}

# METADATA
# title: refusal_of
# description: |
#   Why a request's profile is refused (the spawn page's judgements say it
#   too).
refusal_of(request) := sprintf("profile %s is not allowed for %s", [request.profile, allowances.sources_text]) if {
	object.get(request, "profile_named", true) != false
} else := sprintf(
	"profile %s (the hub's default, used when a request names none) is not allowed for %s; name a profile you may select",
	[request.profile, allowances.sources_text],
)

# METADATA
# title: allowed
# description: |
#   Slugs never contain "/", so "*" matches any slug, dots included.
allowed(profile) if {
	some entry in allowances.entries
	some pattern in entry.profiles
	glob.match(pattern, ["/"], profile)
}
