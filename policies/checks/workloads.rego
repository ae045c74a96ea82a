# Shared helpers of the best-practice checks: where a workload keeps its
# Pod spec and containers. A library package: weft evaluates only the
# `deny` and `warn` rules of `weft.checks.*` packages.
package weft.lib.workloads

import rego.v1

# Pod templates under spec.template, by API group ("" is the core group).
template_kinds := {
	"apps": {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"},
	"batch": {"Job"},
	"": {"ReplicationController"},
	"argoproj.io": {"Rollout"},
}

# Kinds whose Pods run until stopped: the ones probes are for.
long_running := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Rollout", "Pod"}

group := g if {
	parts := split(input.apiVersion, "/")
	count(parts) == 2
	g := parts[0]
} else := ""

# [path to the Pod spec, the Pod spec]; undefined for other kinds.
pod_spec := [["spec"], input.spec] if {
	group == ""
	input.kind == "Pod"
	is_object(input.spec)
}

pod_spec := [["spec", "template", "spec"], input.spec.template.spec] if {
	input.kind in template_kinds[group]
	is_object(input.spec.template.spec)
}

pod_spec := [["spec", "jobTemplate", "spec", "template", "spec"], input.spec.jobTemplate.spec.template.spec] if {
	group == "batch"
	input.kind == "CronJob"
	is_object(input.spec.jobTemplate.spec.template.spec)
}

# Every container, init container and ephemeral container:
# [path to the container, field it is listed under, the container].
all_containers contains [array.concat(base, [field, i]), field, container] if {
	[base, spec] := pod_spec
	some field in ["initContainers", "containers", "ephemeralContainers"]
	some i, container in spec[field]
}

# The containers that serve: probes and resources are theirs.
app_containers contains [path, container] if {
	some [path, field, container] in all_containers
	field == "containers"
}

# Pod-level field with its path.
pod_field(name) := [array.concat(base, [name]), spec[name]] if {
	[base, spec] := pod_spec
}
