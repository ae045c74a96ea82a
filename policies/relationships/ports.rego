# Checks on relationships weft has inferred: do the ports line up, and
# does a selector that matches nothing in its namespace match something
# elsewhere? Evaluated after infer.rego, on its results.
#
# input.objects[i]      the Kubernetes objects involved (apiVersion, kind, metadata, spec)
# input.namespaces[i]   where each lands (`default` when unset)
# input.selects         [service, workload] pairs a Service selects
# input.routes          [router, service] pairs an Ingress, HTTPRoute, GRPCRoute or PerformanceTest sends to
# input.unmatched       Services and PodDisruptionBudgets whose selector matches nothing in their namespace
# input.by_label["k=v"] workloads whose Pod template carries label k=v
#
# findings: {code, object, path, msg}, `path` into input.objects[object].
package weft.relationships.ports

import rego.v1

pod_spec(obj) := obj.spec if obj.kind == "Pod"

pod_spec(obj) := obj.spec.template.spec if obj.kind != "Pod"

pod_labels(obj) := object.get(obj, ["metadata", "labels"], {}) if obj.kind == "Pod"

pod_labels(obj) := object.get(obj, ["spec", "template", "metadata", "labels"], {}) if obj.kind != "Pod"

container_ports(obj) := [port |
	some container in pod_spec(obj).containers
	some port in container.ports
]

selected[s] contains w if some [s, w] in input.selects

# A Service port reaches a Pod through targetPort (the port itself when
# unset): a name must be a container port's name, a number should be a
# declared containerPort. Numbers are only checked against workloads that
# declare ports at all, since a declaration is informational.
findings contains {
	"code": "target-port-mismatch",
	"object": s,
	"path": ["spec", "ports", i, field],
	"msg": sprintf("Service port %s targets container port %s, which %s does not expose", [shown(port), shown_target(target), concat(", ", sort(names))]),
} if {
	some s, workloads in selected
	some i, port in input.objects[s].spec.ports
	[field, target] := target_of(port)
	ports := [p | some w in workloads; some p in container_ports(input.objects[w])]
	not exposes(ports, target)
	checkable(target, ports)
	names := [sprintf("%s `%s`", [input.objects[w].kind, input.objects[w].metadata.name]) | some w in workloads]
}

checkable(target, _) if is_string(target)

checkable(_, ports) if count(ports) > 0

target_of(port) := ["targetPort", port.targetPort] if port.targetPort

target_of(port) := ["port", port.port] if not port.targetPort

shown_target(target) := sprintf("`%s`", [target]) if is_string(target)

shown_target(target) := sprintf("%v", [target]) if not is_string(target)

shown(port) := sprintf("`%s` (%v)", [port.name, port.port]) if port.name

shown(port) := sprintf("%v", [port.port]) if not port.name

exposes(ports, target) if {
	is_string(target)
	some p in ports
	p.name == target
}

exposes(ports, target) if {
	is_number(target)
	some p in ports
	p.containerPort == target
}

# [path to the port, Service name, {number} or {name}] of each backend.
backends(obj) := array.concat(rule_backends, default_backend) if {
	obj.kind == "Ingress"
	rule_backends := [[["spec", "rules", i, "http", "paths", j, "backend", "service", "port"], b.service.name, b.service.port] |
		some i, rule in obj.spec.rules
		some j, path in rule.http.paths
		b := path.backend
		b.service.port
	]
	default_backend := [[["spec", "defaultBackend", "service", "port"], b.service.name, b.service.port] |
		b := obj.spec.defaultBackend
		b.service.port
	]
}

backends(obj) := [[["spec", "rules", i, "backendRefs", j, "port"], ref.name, {"number": ref.port}] |
	some i, rule in obj.spec.rules
	some j, ref in rule.backendRefs
	object.get(ref, "kind", "Service") == "Service"
	object.get(ref, "group", "") == ""
	ref.port
] if obj.kind in {"HTTPRoute", "GRPCRoute"}

# A PerformanceTest's target Service port, by number or by name.
backends(obj) := [[["spec", "target", "service", "port"], service.name, port_ref(service.port)]] if {
	obj.kind == "PerformanceTest"
	service := obj.spec.target.service
	service.port
}

port_ref(port) := {"number": port} if is_number(port)

port_ref(port) := {"name": port} if is_string(port)

findings contains {
	"code": "backend-port-mismatch",
	"object": r,
	"path": path,
	"msg": sprintf("%s sends to port %v of Service `%s`, which exposes %s", [router.kind, wanted, service.metadata.name, exposed]),
} if {
	some [r, s] in input.routes
	router := input.objects[r]
	service := input.objects[s]
	some [path, name, port] in backends(router)
	name == service.metadata.name
	not serves(service, port)
	wanted := object.get(port, "number", object.get(port, "name", "?"))
	exposed := describe_ports(service)
}

serves(service, port) if {
	some p in service.spec.ports
	p.port == port.number
}

serves(service, port) if {
	some p in service.spec.ports
	p.name == port.name
}

describe_ports(service) := concat(", ", [shown(p) | some p in service.spec.ports]) if count(object.get(service, ["spec", "ports"], [])) > 0

describe_ports(service) := "no ports" if count(object.get(service, ["spec", "ports"], [])) == 0

selector(obj) := obj.spec.selector if obj.kind == "Service"

selector(obj) := obj.spec.selector.matchLabels if obj.kind != "Service"

findings contains {
	"code": "selector-other-namespace",
	"object": s,
	"path": path,
	"msg": sprintf("selector %s matches nothing in namespace `%s`, only %s", [shown_selector, input.namespaces[s], concat(", ", sort(elsewhere))]),
} if {
	some s in input.unmatched
	obj := input.objects[s]
	wanted := selector(obj)
	keys := sort(object.keys(wanted))
	count(keys) > 0
	candidates := input.by_label[sprintf("%s=%s", [keys[0], wanted[keys[0]]])]
	elsewhere := {sprintf("%s `%s` in `%s`", [w_obj.kind, w_obj.metadata.name, input.namespaces[w]]) |
		some w in candidates
		input.namespaces[w] != input.namespaces[s]
		w_obj := input.objects[w]
		labels := pod_labels(w_obj)
		every k, v in wanted {
			labels[k] == v
		}
	}
	count(elsewhere) > 0
	shown_selector := concat(",", [sprintf("%s=%s", [k, wanted[k]]) | some k in keys])
	path := selector_path(obj)
}

selector_path(obj) := ["spec", "selector"] if obj.kind == "Service"

selector_path(obj) := ["spec", "selector", "matchLabels"] if obj.kind != "Service"
