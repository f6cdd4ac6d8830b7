# Profiles: which of the hub's profiles a user may select, and which the
# spawn page offers.
package jupyterhub.spawn

profile_denials contains profile_refusal(profile) if {
	profile := input.request.profile
	is_string(profile)
	not profile_allowed(profile)
}

profile_refusal(profile) := sprintf("profile %s is not allowed for %s", [profile, sources_text])

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
