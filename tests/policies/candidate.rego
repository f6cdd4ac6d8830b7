# A stricter candidate policy for the shadow-rollout tests: the live policy,
# except that users may no longer choose the image themselves.
package jupyterhub.spawn_candidate

import data.jupyterhub.spawn

default decision := {"allow": false, "overrides": {}, "messages": ["the candidate policy could not decide"]}

decision := spawn.decision if not user_chose_image

decision := {"allow": false, "overrides": {}, "messages": ["choosing your own image is being phased out"]} if {
	user_chose_image
}

user_chose_image if input.sources.image == "request"
