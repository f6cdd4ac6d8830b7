# Images: the pod's image, whatever layer set it, against the allowlists
# of the user's allowances.
package jupyterhub.spawn

import data.jupyterhub.lib.images

# A pod without an image key (a narrowed ceiling) leaves this undefined.
image_denials contains msg if {
	not _image_allowed(pod.image)
	msg := sprintf(
		"image %s%s is not allowed for %s; allowed images: %s",
		[_short_image, from_text("image"), sources_text, _allowed_images_text],
	)
}

default _short_image := "(not a string)"

_short_image := pod.image if {
	is_string(pod.image)
	count(pod.image) <= 200
} else := sprintf("%s...", [substring(pod.image, 0, 197)]) if {
	is_string(pod.image)
}

_image_allowed(image) if {
	some entry in allowances
	images.allowed_by(image, entry)
}

# Named in a refusal: the globs, and how many repositories are listed, so
# the message does not grow with the allowlist.
_allowed_images_text := concat("", [_globs_text, _repositories_text])

_globs_text := concat(", ", array.slice(sorted_globs, 0, 10)) if {
	count(sorted_globs) <= 10
} else := sprintf("%s and %d more", [concat(", ", array.slice(sorted_globs, 0, 10)), count(sorted_globs) - 10])

sorted_globs := sort({p | some entry in allowances; some p in entry.images})

_repositories_text := "none" if {
	count(sorted_globs) == 0
	_repository_count == 0
} else := "" if {
	_repository_count == 0
} else := sprintf("%s%d listed repositories", [_separator, _repository_count])

default _separator := ", and "

_separator := "" if count(sorted_globs) == 0

_repository_count := count(listed_repositories)

# The repositories the user's allowances list, each once however many list
# it (the allowance view lists these too).
listed_repositories contains repository if {
	some entry in allowances
	some repository, _ in object.get(entry, "image_repositories", {})
}
