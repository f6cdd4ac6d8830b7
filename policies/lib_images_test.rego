# Tests of lib_images.rego, called as another policy would call them.
package jupyterhub.lib.images_test

import data.jupyterhub.lib.images

test_a_reference_split_into_repository_and_tag if {
	images.repository_and_tag("quay.io/jupyter/scipy-notebook:2025") == ["quay.io/jupyter/scipy-notebook", "2025"]
	images.repository_and_tag("registry:5000/team/notebook:v1") == ["registry:5000/team/notebook", "v1"]
	images.repository_and_tag("registry:5000/team/notebook") == ["registry:5000/team/notebook", ""]
	images.repository_and_tag("notebook") == ["notebook", ""]
	not images.repository_and_tag("quay.io/jupyter/base@sha256:0123")
}

test_tag_globs_per_repository if {
	entry := {"image_repositories": {"quay.io/jupyter/base-notebook": ["2025-*", "latest"]}}
	images.allowed_by("quay.io/jupyter/base-notebook:2025-01-06", entry)
	images.allowed_by("quay.io/jupyter/base-notebook:latest", entry)
	not images.allowed_by("quay.io/jupyter/base-notebook:2024-12-30", entry)
	not images.allowed_by("quay.io/jupyter/other-notebook:latest", entry)
}

test_a_star_matches_a_dotted_tag_but_not_a_path if {
	images.allowed_by("jupyterhub/k8s-singleuser-sample:4.1.0", {"images": ["jupyterhub/k8s-singleuser-sample:*"]})
	images.allowed_by("jupyterhub/k8s-singleuser-sample:4.1.0", {"image_repositories": {"jupyterhub/k8s-singleuser-sample": ["*"]}})
	not images.allowed_by("quay.io/evil/x/scipy-notebook:1", {"images": ["quay.io/*/scipy-notebook:*"]})
	images.allowed_by("quay.io/evil/x/scipy-notebook:1", {"images": ["quay.io/**"]})
}

test_a_digest_is_matched_by_image_globs_only if {
	digest := "quay.io/jupyter/base-notebook@sha256:0123"
	images.allowed_by(digest, {"images": ["quay.io/jupyter/base-notebook@sha256:*"]})
	not images.allowed_by(digest, {"image_repositories": {"quay.io/jupyter/base-notebook": ["*"]}})
}

# The runtime pulls a reference with a digest by its digest, whatever its
# tag says: an allowed tag is no way to run another image of the repository.
test_a_digest_after_an_allowed_tag_needs_a_pattern_that_names_digests if {
	images.allowed_by("quay.io/jupyter/scipy-notebook:2025-01", {"images": ["quay.io/jupyter/scipy-notebook:2025-*"]})
	pinned := "quay.io/jupyter/scipy-notebook:2025-01@sha256:0123"
	not images.allowed_by(pinned, {"images": ["quay.io/jupyter/scipy-notebook:2025-*"]})
	not images.allowed_by(pinned, {"images": ["quay.io/jupyter/scipy-notebook:*"]})
	not images.allowed_by(pinned, {"images": ["quay.io/jupyter/scipy-notebook:2025-01?sha256:*"]})
	images.allowed_by(pinned, {"images": ["quay.io/jupyter/scipy-notebook:2025-*@sha256:*"]})
	images.allowed_by(pinned, {"images": ["quay.io/jupyter/**"]})
}
