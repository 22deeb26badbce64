package agentrpc

import (
	"os"
	"time"
)

// Session types ([KernelConfig.SessionType]).
const (
	SessionTypeInteractive = "interactive"
	SessionTypeBatch       = "batch"
	SessionTypeInference   = "inference"
)

// Execution modes ([ExecuteRequest.Mode]).
const (
	ExecModeQuery    = "query"
	ExecModeBatch    = "batch"
	ExecModeContinue = "continue"
	ExecModeInput    = "input"
	ExecModeComplete = "complete"
)

// Execution statuses ([ExecuteResult.Status]).
const (
	ExecStatusFinished      = "finished"
	ExecStatusContinued     = "continued"
	ExecStatusWaitingInput  = "waiting-input"
	ExecStatusBuildFinished = "build-finished"
	ExecStatusCleanFinished = "clean-finished"
	ExecStatusExecTimeout   = "exec-timeout"
)

// CreateKernelsRequest asks an agent to create the kernels of one session that were placed
// on it (Backend.AI's create_kernels(session_id, kernel_ids, configs, cluster_info)). The
// agent answers once every kernel's container is up; the kernel_started events it publishes
// drive the kernels to RUNNING.
type CreateKernelsRequest struct {
	// SessionID is the session's UUID.
	SessionID string `msgpack:"session_id"`
	// Kernels are the configurations of the kernels to create, one per kernel.
	Kernels []KernelConfig `msgpack:"kernels"`
	// Cluster describes the session's whole cluster (all agents).
	Cluster ClusterInfo `msgpack:"cluster"`
}

// KernelConfig is the per-kernel creation config (Backend.AI's KernelCreationConfig).
type KernelConfig struct {
	// KernelID is the kernel's UUID.
	KernelID string `msgpack:"kernel_id"`
	// SessionID is the owning session's UUID.
	SessionID string `msgpack:"session_id"`
	// SessionType is interactive, batch or inference.
	SessionType string `msgpack:"session_type"`
	// ClusterRole is "main" or "sub".
	ClusterRole string `msgpack:"cluster_role"`
	// ClusterIdx is the kernel's 1-based index within its role.
	ClusterIdx int `msgpack:"cluster_idx"`
	// LocalRank is the kernel's 0-based rank within the session.
	LocalRank int `msgpack:"local_rank"`
	// ClusterHostname is the kernel's hostname inside the cluster network ("main1", "sub2").
	ClusterHostname string `msgpack:"cluster_hostname"`
	// Image is the image to run.
	Image ImageRef `msgpack:"image"`
	// AutoPull is the pull policy: "digest", "tag" or "none".
	AutoPull string `msgpack:"auto_pull,omitempty"`
	// ResourceSlots are the requested slots as decimal strings ({"cpu": "1", "mem": "1073741824"}).
	ResourceSlots map[string]string `msgpack:"resource_slots"`
	// ResourceOpts are extra resource options such as "shmem".
	ResourceOpts map[string]any `msgpack:"resource_opts,omitempty"`
	// Environ are the environment variables of the kernel, the BACKENDAI_* ones included.
	Environ map[string]string `msgpack:"environ"`
	// Mounts are the virtual folders to mount.
	Mounts []Mount `msgpack:"mounts,omitempty"`
	// StartupCommand is run once the kernel is up (batch sessions).
	StartupCommand string `msgpack:"startup_command,omitempty"`
	// BootstrapScript is run before the kernel starts.
	BootstrapScript string `msgpack:"bootstrap_script,omitempty"`
	// PreopenPorts are container ports to expose besides the image's service ports.
	PreopenPorts []int `msgpack:"preopen_ports,omitempty"`
	// AllocatedHostPorts are host ports the manager reserved for the kernel, if any.
	AllocatedHostPorts []int `msgpack:"allocated_host_ports,omitempty"`
	// IdleTimeout is the keypair policy's idle timeout in seconds (0 = none).
	IdleTimeout int `msgpack:"idle_timeout,omitempty"`
	// InternalData is the main kernel's internal data (for example dotfiles).
	InternalData map[string]any `msgpack:"internal_data,omitempty"`
	// AgentAddr is the RPC address of the agent the kernel was placed on.
	AgentAddr string `msgpack:"agent_addr,omitempty"`
	// ScalingGroup is the resource group the kernel was scheduled in.
	ScalingGroup string `msgpack:"scaling_group,omitempty"`
	// ScratchDir, when set, asks the agent to use this directory as the kernel's scratch
	// directory instead of one of its own choosing.
	ScratchDir string `msgpack:"scratch_dir,omitempty"`
}

// ImageRef names an image and what the agent needs to run it.
type ImageRef struct {
	// Canonical is the full image reference ("cr.backend.ai/stable/python:3.9-ubuntu20.04").
	Canonical string `msgpack:"canonical"`
	// Architecture is the image's CPU architecture ("x86_64", "aarch64").
	Architecture string `msgpack:"architecture"`
	// Digest is the image's config digest, when known.
	Digest string `msgpack:"digest,omitempty"`
	// Registry is where to pull the image from.
	Registry ImageRegistry `msgpack:"registry"`
	// Labels are the image's labels (ai.backend.* and others).
	Labels map[string]string `msgpack:"labels,omitempty"`
	// RuntimeType is the ai.backend.runtime-type label ("python", "app", ...).
	RuntimeType string `msgpack:"runtime_type,omitempty"`
	// RuntimePath is the ai.backend.runtime-path label (the interpreter to run).
	RuntimePath string `msgpack:"runtime_path,omitempty"`
	// IsLocal reports an image that exists only on the agents and is never pulled.
	IsLocal bool `msgpack:"is_local,omitempty"`
}

// ImageRegistry is a container registry and its credentials.
type ImageRegistry struct {
	// Name is the registry's name (its host name).
	Name string `msgpack:"name"`
	// URL is the registry's base URL.
	URL string `msgpack:"url"`
	// Username is the registry user, if the registry needs one.
	Username string `msgpack:"username,omitempty"`
	// Password is the registry password, if the registry needs one.
	Password string `msgpack:"password,omitempty"`
}

// Mount is a virtual folder mounted into a kernel (Backend.AI's VFolderMount).
type Mount struct {
	// Name is the folder's name.
	Name string `msgpack:"name"`
	// VFID is the folder's id on its storage host ("<quota scope>/<folder uuid>").
	VFID string `msgpack:"vfid"`
	// VFSubpath is the mounted sub-path within the folder ("." for the whole folder).
	VFSubpath string `msgpack:"vfsubpath,omitempty"`
	// HostPath is the folder's path on the agent host.
	HostPath string `msgpack:"host_path"`
	// KernelPath is where the folder appears inside the kernel.
	KernelPath string `msgpack:"kernel_path"`
	// MountPerm is "ro", "rw" or "wd".
	MountPerm string `msgpack:"mount_perm"`
	// UsageMode is "general", "model" or "data".
	UsageMode string `msgpack:"usage_mode,omitempty"`
}

// ClusterInfo describes a session's cluster, the same for every agent it spans.
type ClusterInfo struct {
	// Mode is "single-node" or "multi-node".
	Mode string `msgpack:"mode"`
	// Size is the number of kernels in the session.
	Size int `msgpack:"size"`
	// Replicas counts kernels per cluster role ({"main": 1, "sub": 2}).
	Replicas map[string]int `msgpack:"replicas,omitempty"`
	// NetworkName is the cluster network to attach the kernels to, if any.
	NetworkName string `msgpack:"network_name,omitempty"`
	// SSHKeypair is the keypair the kernels use to reach each other, if any.
	SSHKeypair *SSHKeypair `msgpack:"ssh_keypair,omitempty"`
	// SSHPortMapping maps a cluster hostname to the host and port its SSH service is
	// reachable at, for multi-node sessions.
	SSHPortMapping map[string]HostPort `msgpack:"cluster_ssh_port_mapping,omitempty"`
}

// SSHKeypair is an SSH keypair in OpenSSH text form.
type SSHKeypair struct {
	// PublicKey is the public key.
	PublicKey string `msgpack:"public_key"`
	// PrivateKey is the private key.
	PrivateKey string `msgpack:"private_key"`
}

// HostPort is a host and a port.
type HostPort struct {
	// Host is a host name or IP address.
	Host string `msgpack:"host"`
	// Port is a TCP port.
	Port int `msgpack:"port"`
}

// CreateKernelsReply lists the kernels the agent created, in request order.
type CreateKernelsReply struct {
	// Kernels has one entry per requested kernel.
	Kernels []KernelCreated `msgpack:"kernels"`
}

// KernelCreated is what the agent reports about a kernel it started (also the reply of
// restart_kernel).
type KernelCreated struct {
	// KernelID is the kernel's UUID.
	KernelID string `msgpack:"kernel_id"`
	// ContainerID identifies the kernel on the agent (a container id or, for the process
	// runtime, the process group).
	ContainerID string `msgpack:"container_id"`
	// KernelHost is the host the kernel's ports are reachable at.
	KernelHost string `msgpack:"kernel_host"`
	// ReplInPort is the host port of the kernel's REPL input.
	ReplInPort int `msgpack:"repl_in_port,omitempty"`
	// ReplOutPort is the host port of the kernel's REPL output.
	ReplOutPort int `msgpack:"repl_out_port,omitempty"`
	// StdinPort is the host port of the kernel's stdin stream.
	StdinPort int `msgpack:"stdin_port,omitempty"`
	// StdoutPort is the host port of the kernel's stdout stream.
	StdoutPort int `msgpack:"stdout_port,omitempty"`
	// ServicePorts are the kernel's services and where they listen.
	ServicePorts []ServicePort `msgpack:"service_ports,omitempty"`
	// AttachedDevices lists the devices given to the kernel, by device kind ("cuda").
	AttachedDevices map[string][]AttachedDevice `msgpack:"attached_devices,omitempty"`
	// Allocations is the actual allocation as {device: {slot: {device_id: amount}}}, amounts
	// as decimal strings (Backend.AI's resource_spec.allocations).
	Allocations map[string]map[string]map[string]string `msgpack:"allocations,omitempty"`
	// AgentAddr is the RPC address of the agent.
	AgentAddr string `msgpack:"agent_addr,omitempty"`
	// ScalingGroup is the agent's resource group.
	ScalingGroup string `msgpack:"scaling_group,omitempty"`
}

// ServicePort is one service of a kernel.
type ServicePort struct {
	// Name is the service's name ("jupyter", "ttyd", "sshd").
	Name string `msgpack:"name"`
	// Protocol is "tcp", "http", "pty" or "preopen".
	Protocol string `msgpack:"protocol"`
	// ContainerPorts are the ports inside the kernel.
	ContainerPorts []int `msgpack:"container_ports"`
	// HostPorts are the matching ports on the agent host.
	HostPorts []int `msgpack:"host_ports"`
	// IsInference marks an inference endpoint port.
	IsInference bool `msgpack:"is_inference,omitempty"`
}

// AttachedDevice is one device given to a kernel.
type AttachedDevice struct {
	// DeviceID identifies the device on the agent.
	DeviceID string `msgpack:"device_id"`
	// ModelName is the device's model ("NVIDIA A100").
	ModelName string `msgpack:"model_name,omitempty"`
	// Data carries device-specific details.
	Data map[string]any `msgpack:"data,omitempty"`
}

// DestroyKernelRequest asks the agent to destroy a kernel; the reply comes once the kernel is
// cleaned up.
type DestroyKernelRequest struct {
	// KernelID is the kernel's UUID.
	KernelID string `msgpack:"kernel_id"`
	// SessionID is the owning session's UUID.
	SessionID string `msgpack:"session_id"`
	// Reason is recorded in the kernel_terminated event ("user-requested", "idle-timeout", ...).
	Reason string `msgpack:"reason,omitempty"`
	// SuppressEvents asks the agent not to publish kernel events for this termination.
	SuppressEvents bool `msgpack:"suppress_events,omitempty"`
}

// RestartKernelRequest asks the agent to restart a kernel in place.
type RestartKernelRequest struct {
	// SessionID is the owning session's UUID.
	SessionID string `msgpack:"session_id"`
	// KernelID is the kernel's UUID.
	KernelID string `msgpack:"kernel_id"`
	// UpdatedConfig, when not nil, replaces the kernel's creation config; nil restarts the
	// kernel with the config it was created with.
	UpdatedConfig *KernelConfig `msgpack:"updated_config,omitempty"`
}

// ExecuteRequest runs code in a kernel, or continues or feeds input to a run.
type ExecuteRequest struct {
	// SessionID is the owning session's UUID.
	SessionID string `msgpack:"session_id"`
	// KernelID is the kernel (the session's main kernel) to run the code in.
	KernelID string `msgpack:"kernel_id"`
	// RunID identifies the run across continue/input calls.
	RunID string `msgpack:"run_id"`
	// Mode is query, batch, continue, input or complete.
	Mode string `msgpack:"mode"`
	// Code is the code (query), the input text (input) or empty (continue).
	Code string `msgpack:"code"`
	// Options are mode-specific options (batch: clean, build, exec, buildLog).
	Options map[string]any `msgpack:"options,omitempty"`
	// FlushTimeout is how long the agent gathers output before answering with status
	// "continued"; the call's own deadline must be longer.
	FlushTimeout time.Duration `msgpack:"flush_timeout"`
}

// ExecuteResult is the outcome of one execute call.
type ExecuteResult struct {
	// RunID echoes the run's id.
	RunID string `msgpack:"run_id"`
	// Status is finished, continued, waiting-input, build-finished, clean-finished or
	// exec-timeout.
	Status string `msgpack:"status"`
	// Console holds [stream, text] pairs in order ("stdout", "stderr", "media", "html", ...).
	Console [][2]string `msgpack:"console"`
	// ExitCode is the exit code once the run finished.
	ExitCode *int `msgpack:"exit_code"`
	// Files lists files the run produced, as the kernel reports them.
	Files []map[string]any `msgpack:"files"`
	// Options carries mode-specific result options.
	Options map[string]any `msgpack:"options"`
}

// InterruptKernelRequest interrupts the code running in a kernel.
type InterruptKernelRequest struct {
	// KernelID is the kernel's UUID.
	KernelID string `msgpack:"kernel_id"`
}

// GetLogsRequest asks for a kernel's container log.
type GetLogsRequest struct {
	// KernelID is the kernel's UUID.
	KernelID string `msgpack:"kernel_id"`
}

// GetLogsReply carries a kernel's container log.
type GetLogsReply struct {
	// Logs is the log text.
	Logs string `msgpack:"logs"`
}

// UploadFileRequest writes a file into a kernel's working directory.
type UploadFileRequest struct {
	// KernelID is the kernel's UUID.
	KernelID string `msgpack:"kernel_id"`
	// Path is the file's path, relative to the kernel's working directory.
	Path string `msgpack:"path"`
	// Data is the file's content.
	Data []byte `msgpack:"data"`
}

// ListFilesRequest lists a directory inside a kernel.
type ListFilesRequest struct {
	// KernelID is the kernel's UUID.
	KernelID string `msgpack:"kernel_id"`
	// Path is the directory, relative to the kernel's working directory.
	Path string `msgpack:"path"`
}

// ListFilesReply is a directory listing.
type ListFilesReply struct {
	// Files are the directory's entries.
	Files []FileInfo `msgpack:"files"`
	// Errors lists entries that could not be read.
	Errors []string `msgpack:"errors,omitempty"`
	// AbsPath is the directory's absolute path inside the kernel.
	AbsPath string `msgpack:"abspath"`
}

// FileInfo describes one directory entry.
type FileInfo struct {
	// Name is the entry's base name.
	Name string `msgpack:"name"`
	// Size is the size in bytes.
	Size int64 `msgpack:"size"`
	// Mode holds the type and permission bits as Go's os.FileMode (Mode.String() gives the
	// "-rw-r--r--" form Backend.AI shows).
	Mode os.FileMode `msgpack:"mode"`
	// Mtime is the modification time.
	Mtime time.Time `msgpack:"mtime"`
	// Atime is the access time, when known.
	Atime time.Time `msgpack:"atime,omitempty"`
	// Ctime is the status change time, when known.
	Ctime time.Time `msgpack:"ctime,omitempty"`
	// IsDir reports a directory.
	IsDir bool `msgpack:"is_dir"`
}

// MaxChunk bounds the data of one read_file reply: the server clamps a longer
// [ReadFileRequest.Length] to it, so that a download holds at most one chunk in memory on
// either side, whatever the file's size.
const MaxChunk = 1 << 20

// DefaultWalkEntries is the [WalkFilesRequest.MaxEntries] a request without one gets.
const DefaultWalkEntries = 10_000

// WalkFilesRequest describes what a download will read, before a byte of it is read: one
// regular file (download_single), or a file or directory tree to archive (download). The
// manager checks sizes with it and then reads each regular file with read_file.
type WalkFilesRequest struct {
	// KernelID is the kernel's UUID.
	KernelID string `msgpack:"kernel_id"`
	// Path is the file or directory, relative to the kernel's working directory.
	Path string `msgpack:"path"`
	// Recursive asks for the tree under Path (which may then be a directory or a file).
	// Without it Path must be a regular file.
	Recursive bool `msgpack:"recursive,omitempty"`
	// MaxBytes, when positive, bounds the sum of the regular files' apparent sizes (a
	// sparse file counts by its apparent size): past it the agent stops and answers
	// [KindTooLarge].
	MaxBytes int64 `msgpack:"max_bytes,omitempty"`
	// MaxEntries bounds the entries visited, [DefaultWalkEntries] when not positive: past it
	// the agent stops and answers [KindTooLarge].
	MaxEntries int `msgpack:"max_entries,omitempty"`
}

// WalkFilesReply lists the entries of a walk, parents before their children. Only
// directories, regular files and symbolic links are listed; FIFOs, sockets and devices are
// left out.
type WalkFilesReply struct {
	// Entries are the walked entries, in archive order.
	Entries []WalkEntry `msgpack:"entries"`
	// TotalSize is the sum of the regular files' apparent sizes.
	TotalSize int64 `msgpack:"total_size"`
}

// WalkEntry is one entry of a walk.
type WalkEntry struct {
	// Name is the entry's name in an archive: relative to the walked directory, or the base
	// name of a walked file.
	Name string `msgpack:"name"`
	// Path is the entry's path relative to the kernel's working directory, to read it with.
	Path string `msgpack:"path"`
	// Mode holds the type and permission bits as Go's os.FileMode.
	Mode os.FileMode `msgpack:"mode"`
	// Size is a regular file's apparent size in bytes (0 for other entries).
	Size int64 `msgpack:"size"`
	// Mtime is the modification time.
	Mtime time.Time `msgpack:"mtime"`
	// Linkname is a symbolic link's target, as written (it is not followed).
	Linkname string `msgpack:"linkname,omitempty"`
}

// ReadFileRequest reads one chunk of a regular file inside a kernel. Reads are stateless:
// the agent opens the file, reads and closes it in the one call, so nothing stays open
// between the chunks of a download, however slowly its client reads or wherever it stops.
type ReadFileRequest struct {
	// KernelID is the kernel's UUID.
	KernelID string `msgpack:"kernel_id"`
	// Path is the file's path, relative to the kernel's working directory.
	Path string `msgpack:"path"`
	// Offset is where to read from.
	Offset int64 `msgpack:"offset"`
	// Length is how many bytes to read at most; [MaxChunk] when not positive or larger.
	Length int `msgpack:"length"`
}

// ReadFileReply is one chunk of a file.
type ReadFileReply struct {
	// Data holds at most the requested Length (and at most [MaxChunk]) bytes.
	Data []byte `msgpack:"data"`
	// EOF reports that the file ends with this chunk.
	EOF bool `msgpack:"eof,omitempty"`
}

// PingRequest checks that an agent is alive and speaks this protocol version.
type PingRequest struct {
	// Payload is echoed back.
	Payload string `msgpack:"payload"`
	// Version is the client's protocol version; [Client.Ping] fills it in.
	Version int `msgpack:"version"`
}

// PingReply answers a ping.
type PingReply struct {
	// Payload echoes the request's payload.
	Payload string `msgpack:"payload"`
	// AgentID is the agent's id.
	AgentID string `msgpack:"agent_id"`
	// Version is the server's protocol version; the server fills it in.
	Version int `msgpack:"version"`
}

// SyncKernelsRequest tells an agent which of its kernels the manager believes are alive
// (Backend.AI's sync_kernel_registry). The agent publishes kernel_terminated with reason
// "already-terminated" for listed kernels it does not have, and destroys kernels it has that
// are not listed (reason "not-found-in-manager").
type SyncKernelsRequest struct {
	// Kernels are the kernels the manager has on this agent.
	Kernels []KernelRef `msgpack:"kernels"`
}

// KernelRef names a kernel and its session.
type KernelRef struct {
	// KernelID is the kernel's UUID.
	KernelID string `msgpack:"kernel_id"`
	// SessionID is the owning session's UUID.
	SessionID string `msgpack:"session_id"`
}

// SyncKernelsReply reports how the agent's kernels compared with the manager's list.
type SyncKernelsReply struct {
	// Alive are listed kernels the agent has.
	Alive []string `msgpack:"alive"`
	// Missing are listed kernels the agent does not have.
	Missing []string `msgpack:"missing"`
	// Unknown are kernels the agent had that were not listed (now being destroyed).
	Unknown []string `msgpack:"unknown"`
}
