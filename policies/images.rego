# METADATA
# title: Images
# description: |
#   Images: the pod's image, whatever layer set it, against the allowlists
#   of the user's allowances.
package jupyterhub.spawn.images

import data.jupyterhub.lib.images
import data.jupyterhub.spawn.allowances
import data.jupyterhub.spawn.given
import data.jupyterhub.spawn.messages

# METADATA
# title: denials
# description: |
#   A pod without an image key (a narrowed ceiling) leaves this undefined.
denials contains msg if {
	not _image_allowed(given.pod.image)
	msg := sprintf(
		"image %s%s is not allowed for %s; allowed images: %s",
		[_short_image, messages.from_text("image"), allowances.sources_text, _allowed_images_text],
	)
}

default _short_image := "(not a string)"

_short_image := given.pod.image if {
	is_string(given.pod.image)
	count(given.pod.image) <= 200
} else := sprintf("%s...", [substring(given.pod.image, 0, 197)]) if {
	is_string(given.pod.image)
}

_image_allowed(image) if {
	some entry in allowances.entries
	images.allowed_by(image, entry)
}

# Named in a refusal: the globs, and how many repositories are listed, so
# the message does not grow with the allowlist.
_allowed_images_text := concat("", [_globs_text, _repositories_text])

_globs_text := concat(", ", array.slice(sorted_globs, 0, 10)) if {
	count(sorted_globs) <= 10
} else := sprintf("%s and %d more", [concat(", ", array.slice(sorted_globs, 0, 10)), count(sorted_globs) - 10])

# METADATA
# title: sorted_globs
# description: |
#   The image globs of the allowances that apply, sorted.
sorted_globs := sort({p | some entry in allowances.entries; some p in entry.images})

_repositories_text := "none" if {
	count(sorted_globs) == 0
	_repository_count == 0
} else := "" if {
	_repository_count == 0
} else := sprintf("%s%d listed repositories", [_separator, _repository_count])

default _separator := ", and "

_separator := "" if count(sorted_globs) == 0

_repository_count := count(listed_repositories)

# METADATA
# title: listed_repositories
# description: |
#   The repositories the user's allowances list, each once however many list
#   it (the allowance view lists these too).
listed_repositories contains repository if {
	some entry in allowances.entries
	some repository, _ in object.get(entry, "image_repositories", {})
}
