# A workload's selector must be among its Pod template's labels: the API
# server rejects the object otherwise ("selector does not match template
# labels"), which schema validation alone cannot see.
package weft.checks.selectors

import rego.v1

import data.weft.lib.workloads

deny contains {
	"code": "selector-template-mismatch",
	"msg": sprintf("%s selects `%s=%s`, but its Pod template does not carry that label", [input.kind, key, value]),
	"path": ["spec", "selector", "matchLabels", key],
} if {
	input.kind in selecting_kinds[workloads.group]
	some key, value in input.spec.selector.matchLabels
	object.get(input, ["spec", "template", "metadata", "labels", key], null) != value
}

selecting_kinds := {
	"apps": {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"},
	"argoproj.io": {"Rollout"},
}
