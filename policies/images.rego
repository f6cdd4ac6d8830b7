# Images: the pod's image, whatever layer set it, against the allowlists
# of the user's allowances.
package jupyterhub.spawn

# A pod without an image key (a narrowed ceiling) leaves this undefined.
image_denials contains msg if {
	not image_allowed(pod.image)
	msg := sprintf(
		"image %s%s is not allowed for %s; allowed images: %s",
		[short_image, from_text("image"), sources_text, allowed_images_text],
	)
}

default short_image := "(not a string)"

short_image := pod.image if {
	is_string(pod.image)
	count(pod.image) <= 200
} else := sprintf("%s...", [substring(pod.image, 0, 197)]) if {
	is_string(pod.image)
}

# Large allowlists go in image_repositories (repository -> tag globs): a
# direct lookup by the image's repository, whatever the list's size. images
# holds glob patterns on the full reference; those are scanned, so keep them
# few. Tags never contain "/", so it is the delimiter for tag globs too:
# with [] glob.match would use ".", and "*" would not match "4.1.0".
image_allowed(image) if {
	[repository, tag] := split_image(image)
	some entry in allowances
	some pattern in entry.image_repositories[repository]
	glob.match(pattern, ["/"], tag)
}

image_allowed(image) if {
	some entry in allowances
	some pattern in entry.images
	glob.match(pattern, ["/"], image)
}

# "registry/path/name:tag" -> ["registry/path/name", "tag"]; no tag -> "".
# A reference with a digest (@sha256:...) is matched by images globs only.
split_image(image) := [substring(image, 0, i), substring(image, i + 1, -1)] if {
	not contains(image, "@")
	i := max(indexof_n(image, ":"))
	i > max(array.concat([-1], indexof_n(image, "/")))
} else := [image, ""] if {
	not contains(image, "@")
}

# Named in a refusal: the globs, and how many repositories are listed, so
# the message does not grow with the allowlist.
allowed_images_text := concat("", [globs_text, repositories_text])

globs_text := concat(", ", array.slice(sorted_globs, 0, 10)) if {
	count(sorted_globs) <= 10
} else := sprintf("%s and %d more", [concat(", ", array.slice(sorted_globs, 0, 10)), count(sorted_globs) - 10])

sorted_globs := sort({p | some entry in allowances; some p in entry.images})

repositories_text := "none" if {
	count(sorted_globs) == 0
	repository_count == 0
} else := "" if {
	repository_count == 0
} else := sprintf("%s%d listed repositories", [separator, repository_count])

default separator := ", and "

separator := "" if count(sorted_globs) == 0

repository_count := count(listed_repositories)

# The repositories the user's allowances list, each once however many list
# it (the allowance view lists these too).
listed_repositories contains repository if {
	some entry in allowances
	some repository, _ in object.get(entry, "image_repositories", {})
}
