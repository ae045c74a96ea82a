# RBAC that grants everything: wildcards in rules, and bindings to
# cluster-admin.
package weft.checks.rbac

import rego.v1

rbac_group := "rbac.authorization.k8s.io"

deny_wildcards := {"verbs", "resources", "apiGroups"}

warn contains {
	"code": "rbac-wildcard",
	"msg": sprintf("%s rule %d grants `*` in %s", [input.kind, i, field]),
	"path": ["rules", i, field, j],
} if {
	startswith(input.apiVersion, concat("", [rbac_group, "/"]))
	input.kind in {"Role", "ClusterRole"}
	some i, rule in input.rules
	some field in deny_wildcards
	some j, value in rule[field]
	value == "*"
}

warn contains {
	"code": "cluster-admin-binding",
	"msg": sprintf("%s grants cluster-admin", [input.kind]),
	"path": ["roleRef", "name"],
} if {
	startswith(input.apiVersion, concat("", [rbac_group, "/"]))
	input.kind in {"RoleBinding", "ClusterRoleBinding"}
	input.roleRef.name == "cluster-admin"
}
