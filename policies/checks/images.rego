# Images should be pinned: without a tag, or with `latest`, every node may
# run a different build and a rollback restores nothing.
package weft.checks.images

import rego.v1

import data.weft.lib.workloads

warn contains {
	"code": "image-latest-tag",
	"msg": sprintf("container `%s` uses image `%s` %s", [container.name, container.image, why]),
	"path": array.concat(path, ["image"]),
} if {
	some [path, _, container] in workloads.all_containers
	is_string(container.image)
	not contains(container.image, "@")
	why := floating(container.image)
}

# The last path segment holds the tag; a registry port (`host:5000/app`)
# is not one.
floating(image) := "without a tag" if {
	segments := split(image, "/")
	not contains(segments[count(segments) - 1], ":")
}

floating(image) := "with the tag `latest`" if endswith(image, ":latest")
