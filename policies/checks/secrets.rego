# Credentials written into a manifest are in git for ever; they belong in
# a Secret referenced with valueFrom.secretKeyRef.
package weft.checks.secrets

import rego.v1

import data.weft.lib.workloads

warn contains {
	"code": "secret-in-env",
	"msg": sprintf("container `%s` sets `%s` to a literal value: keep credentials in a Secret", [container.name, variable.name]),
	"path": array.concat(path, ["env", i, "value"]),
} if {
	some [path, _, container] in workloads.all_containers
	some i, variable in container.env
	is_string(variable.value)
	variable.value != ""
	credential_name(lower(variable.name))
}

credential_suffixes := ["password", "passwd", "secret", "token", "apikey", "api_key", "privatekey", "private_key", "credential", "credentials"]

# Plain string tests: a regex here would be compiled once per variable.
credential_name(name) if {
	some suffix in credential_suffixes
	endswith(name, suffix)
}
