# Pods that reach into the node: privileged containers, host namespaces,
# host paths and root users break the isolation the cluster relies on.
package weft.checks.security

import rego.v1

import data.weft.lib.workloads

deny contains {
	"code": "privileged-container",
	"msg": sprintf("container `%s` runs privileged: it has every capability of the node", [container.name]),
	"path": array.concat(path, ["securityContext", "privileged"]),
} if {
	some [path, _, container] in workloads.all_containers
	container.securityContext.privileged == true
}

warn contains {
	"code": "host-network",
	"msg": "the Pod uses the node's network namespace (hostNetwork)",
	"path": path,
} if {
	[path, value] := workloads.pod_field("hostNetwork")
	value == true
}

warn contains {
	"code": "host-pid-ipc",
	"msg": sprintf("the Pod shares the node's %s namespace (%s)", [upper(trim_prefix(field, "host")), field]),
	"path": path,
} if {
	some field in ["hostPID", "hostIPC"]
	[path, value] := workloads.pod_field(field)
	value == true
}

warn contains {
	"code": "host-path-volume",
	"msg": sprintf("volume `%s` mounts `%s` from the node (hostPath)", [volume.name, volume.hostPath.path]),
	"path": array.concat(base, [i, "hostPath"]),
} if {
	[base, volumes] := workloads.pod_field("volumes")
	some i, volume in volumes
	volume.hostPath
	not runtime_socket(volume.hostPath.path)
}

deny contains {
	"code": "container-runtime-socket",
	"msg": sprintf("volume `%s` mounts the container runtime socket `%s`: whoever holds it controls the node", [volume.name, volume.hostPath.path]),
	"path": array.concat(base, [i, "hostPath", "path"]),
} if {
	[base, volumes] := workloads.pod_field("volumes")
	some i, volume in volumes
	runtime_socket(volume.hostPath.path)
}

runtime_socket(path) if {
	some socket in ["docker.sock", "containerd.sock", "crio.sock", "cri-dockerd.sock"]
	endswith(path, socket)
}

warn contains {
	"code": "run-as-root",
	"msg": "the Pod runs as root (runAsUser: 0)",
	"path": array.concat(path, ["runAsUser"]),
} if {
	[path, context] := workloads.pod_field("securityContext")
	context.runAsUser == 0
}

warn contains {
	"code": "run-as-root",
	"msg": sprintf("container `%s` runs as root (runAsUser: 0)", [container.name]),
	"path": array.concat(path, ["securityContext", "runAsUser"]),
} if {
	some [path, _, container] in workloads.all_containers
	container.securityContext.runAsUser == 0
}

dangerous := {"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "DAC_READ_SEARCH", "BPF"}

warn contains {
	"code": "dangerous-capability",
	"msg": sprintf("container `%s` adds the capability %s", [container.name, capability]),
	"path": array.concat(path, ["securityContext", "capabilities", "add", i]),
} if {
	some [path, _, container] in workloads.all_containers
	some i, capability in container.securityContext.capabilities.add
	upper(trim_prefix(capability, "CAP_")) in dangerous
}
