# METADATA
# title: Images
# description: |
#   Container image references against an allowance's allowlists: glob
#   patterns on the whole reference (images) and, for large lists, tag
#   globs per repository (image_repositories), looked up directly by the
#   image's repository whatever the list's size. Functions of their
#   arguments alone: `import data.jupyterhub.lib.images`.
package jupyterhub.lib.images

# METADATA
# title: allowed_by
# description: |
#   The image is allowed by the allowance `entry` (an object with images
#   and/or image_repositories). Tags never contain "/", so it is the
#   delimiter for tag globs too: with [] glob.match would use ".", and "*"
#   would not match "4.1.0". In images, "@" is one too (below).
# scope: document
allowed_by(image, entry) if {
	# An entry without image_repositories ends here, before the image is
	# parsed (most entries list globs alone).
	repositories := entry.image_repositories
	[repository, tag] := repository_and_tag(image)
	some pattern in repositories[repository]
	glob.match(pattern, ["/"], tag)
}

# "@" is a delimiter too, so "*" and "?" never reach into a digest: the
# runtime pulls "repo:2025-01@sha256:..." by its digest, whatever the tag
# says, and "repo:2025-*" would otherwise let any image of the repository
# through under an allowed tag. A digest is allowed by a pattern that
# names one ("repo@sha256:*") or by "**".
allowed_by(image, entry) if {
	some pattern in entry.images
	glob.match(pattern, ["/", "@"], image)
}

# METADATA
# title: repository_and_tag
# description: |
#   "registry/path/name:tag" as ["registry/path/name", "tag"]; no tag: "".
#   Undefined for a reference with a digest (@sha256:...), which only
#   images globs match.
repository_and_tag(image) := [substring(image, 0, i), substring(image, i + 1, -1)] if {
	not contains(image, "@")
	i := max(indexof_n(image, ":"))
	i > max(array.concat([-1], indexof_n(image, "/")))
} else := [image, ""] if {
	not contains(image, "@")
}
