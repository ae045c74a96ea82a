# Containers should say what they need: without requests the scheduler
# packs blindly, without a memory limit one leak can take the node down.
package weft.checks.resources

import rego.v1

import data.weft.lib.workloads

warn contains {
	"code": "missing-resource-requests",
	"msg": sprintf("container `%s` sets no %s request", [container.name, concat(" or ", missing)]),
	"path": array.concat(path, ["resources", "requests"]),
} if {
	some [path, container] in workloads.app_containers
	missing := [r | some r in ["cpu", "memory"]; not has_request(container, r)]
	count(missing) > 0
}

warn contains {
	"code": "missing-memory-limit",
	"msg": sprintf("container `%s` sets no memory limit", [container.name]),
	"path": array.concat(path, ["resources", "limits"]),
} if {
	some [path, container] in workloads.app_containers
	not container.resources.limits.memory
}

has_request(container, resource) if container.resources.requests[resource]

# A limit alone also sets the request to the same value.
has_request(container, resource) if container.resources.limits[resource]
