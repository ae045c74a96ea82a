# A LoadBalancer Service buys a cloud load balancer with a public address.
# That should be a decision, recorded on the object, not an accident.
package weft.checks.services

import rego.v1

allow_annotation := "weft.io/allow-load-balancer"

warn contains {
	"code": "load-balancer-not-allowed",
	"msg": sprintf("Service of type LoadBalancer without the annotation `%s: \"true\"`", [allow_annotation]),
	"path": ["spec", "type"],
} if {
	input.apiVersion == "v1"
	input.kind == "Service"
	input.spec.type == "LoadBalancer"
	object.get(input, ["metadata", "annotations", allow_annotation], "") != "true"
}
