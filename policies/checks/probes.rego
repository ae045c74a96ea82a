# Long-running containers need probes: without readiness a Service sends
# traffic to Pods still starting; without liveness a hung process is never
# restarted. Jobs run to completion and are exempt.
package weft.checks.probes

import rego.v1

import data.weft.lib.workloads

warn contains {
	"code": "missing-readiness-probe",
	"msg": sprintf("container `%s` has no readiness probe", [container.name]),
	"path": path,
} if {
	input.kind in workloads.long_running
	some [path, container] in workloads.app_containers
	not container.readinessProbe
}

warn contains {
	"code": "missing-liveness-probe",
	"msg": sprintf("container `%s` has no liveness probe", [container.name]),
	"path": path,
} if {
	input.kind in workloads.long_running
	some [path, container] in workloads.app_containers
	not container.livenessProbe
}
