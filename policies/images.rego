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
	repository_count == 0
} else := "" if {
	repository_count == 0
} else := sprintf("%s%d listed repositories", [_separator, repository_count])

default _separator := ", and "

_separator := "" if count(sorted_globs) == 0

# METADATA
# title: listed_repositories
# description: |
#   The repositories the user's allowances list, each once however many list
#   it (the allowance view lists these).
listed_repositories contains repository if {
	some repositories in _repository_lists
	some repository, _ in repositories
}

# METADATA
# title: repository_count
# description: |
#   How many repositories the user's allowances list: the size of
#   listed_repositories, read without building it. The first list is
#   counted by its size, the others by what no list before them has, so a
#   refusal where one allowance lists them, as for most users, costs the
#   same for 10 repositories or 10,000 (benchmark 2,
#   bench/policy_scaling.py).
# scope: document
default repository_count := 0

repository_count := count(_repository_lists[0]) + count(_more_repositories)

# The applying allowances' image_repositories, in order (an allowance
# without one has no list here, so it is never the first).
_repository_lists := [entry.image_repositories | some entry in allowances.entries]

_more_repositories contains repository if {
	some i, repositories in _repository_lists
	i > 0
	some repository, _ in repositories
	not _listed_before(repository, i)
}

_listed_before(repository, i) if {
	some j, earlier in _repository_lists
	j < i
	earlier[repository]
}
