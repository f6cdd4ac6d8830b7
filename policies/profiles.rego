# Profiles: which of the hub's profiles a user may select, and which the
# spawn page offers.
package jupyterhub.spawn

# input.request.profile is the profile the hub applies: the one named, or
# the hub's default when none was (request.profile_named false). Both are
# judged: a default profile is no way around the allowlist.
profile_denials contains profile_refusal(input.request) if {
	is_string(input.request.profile)
	not profile_allowed(input.request.profile)
}

# Why a request's profile is refused (the spawn page's judgements say it too).
profile_refusal(request) := sprintf("profile %s is not allowed for %s", [request.profile, sources_text]) if {
	object.get(request, "profile_named", true) != false
} else := sprintf(
	"profile %s (the hub's default, used when a request names none) is not allowed for %s; name a profile you may select",
	[request.profile, sources_text],
)

# METADATA
# title: visible_profiles
# description: |
#   The slugs of input.profiles the spawn page offers this user
#   (opa_profiles_path), when the allowance view did not judge them all.
# entrypoint: true
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
