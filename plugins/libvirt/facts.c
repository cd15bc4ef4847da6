/* SPDX-License-Identifier: MIT */
/*
 * What the node offers: memory, and whether KVM can really run a guest. A facts file can
 * override any of them for simulations; the plugin then says so in every log line and in
 * the plan's notes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "lv.h"
#include "util.h"

#define KVM_DEVICE            "/dev/kvm"
#define KVM_PROBE_TIMEOUT_MS  5000
#define MSR_ARCH_CAPABILITIES 0x10a
#define GUEST_CODE_ADDR       0x1000
#define CPUID_ENTRIES_MAX     256

/* ---- KVM ----
 *
 * /dev/kvm existing is not enough. On some hosts (KVM nested behind another hypervisor, such
 * as kvm_pvm under Firecracker) the device opens and even runs a trivial guest, but QEMU
 * aborts at start: it copies the host's IA32_ARCH_CAPABILITIES into each vCPU, as it does for
 * '-cpu host' and '-cpu max', and that write is refused ("failed to set MSR 0x10a"). So the
 * probe does what QEMU does before a guest's first instruction (create a VM and a vCPU, give
 * it the supported CPUID, write that MSR when the host reports it), then runs one 'hlt'.
 * It runs in a child process with a deadline, since a broken KVM may hang in KVM_RUN.
 */

/* Exit codes of the probe child: 0 usable, otherwise the step that failed. */
enum kvm_step {
	KVM_OK,
	KVM_NO_DEVICE,
	KVM_BAD_API,
	KVM_NO_VM,
	KVM_NO_MEMORY,
	KVM_NO_VCPU,
	KVM_NO_CPUID,
	KVM_MSR_REFUSED,
	KVM_NO_RUN,
	KVM_NO_HALT,
	KVM_STEP_COUNT,
};

static const char *const kvm_step_text[KVM_STEP_COUNT] = {
	[KVM_OK] = "a test guest ran",
	[KVM_NO_DEVICE] = "cannot open " KVM_DEVICE,
	[KVM_BAD_API] = "the KVM API version is not 12",
	[KVM_NO_VM] = "KVM_CREATE_VM failed",
	[KVM_NO_MEMORY] = "cannot give a test guest memory",
	[KVM_NO_VCPU] = "KVM_CREATE_VCPU failed",
	[KVM_NO_CPUID] = "cannot give a vCPU the supported CPUID",
	[KVM_MSR_REFUSED] = "a vCPU refuses the host's IA32_ARCH_CAPABILITIES (MSR 0x10a), "
			    "which QEMU writes at start",
	[KVM_NO_RUN] = "KVM_RUN failed",
	[KVM_NO_HALT] = "a test guest did not stop at its 'hlt'",
};

static int kvm_set_cpuid(int kvm, int vcpu)
{
	static struct {
		struct kvm_cpuid2 head;
		struct kvm_cpuid_entry2 entries[CPUID_ENTRIES_MAX];
	} cpuid;

	cpuid.head.nent = CPUID_ENTRIES_MAX;
	if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, &cpuid) < 0)
		return -1;
	return ioctl(vcpu, KVM_SET_CPUID2, &cpuid);
}

/* Writes the host's value of the MSR into the vCPU; fine when the host has no such MSR. */
static bool kvm_arch_capabilities_ok(int kvm, int vcpu)
{
	struct {
		struct kvm_msrs head;
		struct kvm_msr_entry entry;
	} msrs = {.head.nmsrs = 1, .entry.index = MSR_ARCH_CAPABILITIES};

	if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_GET_MSR_FEATURES) <= 0)
		return true;
	if (ioctl(kvm, KVM_GET_MSRS, &msrs) != 1)
		return true;
	/* KVM_SET_MSRS returns how many it set. */
	return ioctl(vcpu, KVM_SET_MSRS, &msrs) == 1;
}

/* Real mode, CS base 0, one page holding 'hlt' at GUEST_CODE_ADDR. */
static enum kvm_step kvm_run_halt(int kvm, int vcpu)
{
	int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	struct kvm_sregs sregs;
	struct kvm_regs regs = {.rip = GUEST_CODE_ADDR, .rflags = 2};
	struct kvm_run *run;

	if (size <= 0 || ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return KVM_NO_RUN;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return KVM_NO_RUN;
	run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED || ioctl(vcpu, KVM_RUN, 0) < 0)
		return KVM_NO_RUN;
	return run->exit_reason == KVM_EXIT_HLT ? KVM_OK : KVM_NO_HALT;
}

static enum kvm_step kvm_guest(int kvm)
{
	struct kvm_userspace_memory_region region = {
		.guest_phys_addr = GUEST_CODE_ADDR,
		.memory_size = 4096,
	};
	uint8_t *code;
	int vm, vcpu;

	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return KVM_NO_VM;
	code = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED)
		return KVM_NO_MEMORY;
	code[0] = 0xf4; /* hlt */
	region.userspace_addr = (uintptr_t)code;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return KVM_NO_MEMORY;

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return KVM_NO_VCPU;
	if (kvm_set_cpuid(kvm, vcpu) < 0)
		return KVM_NO_CPUID;
	if (!kvm_arch_capabilities_ok(kvm, vcpu))
		return KVM_MSR_REFUSED;
	return kvm_run_halt(kvm, vcpu);
}

/* The child: no allocation, no stdio, only system calls, then _exit. */
static _Noreturn void kvm_child(const char *device)
{
	int kvm = open(device, O_RDWR | O_CLOEXEC);

	if (kvm < 0)
		_exit(KVM_NO_DEVICE);
	if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		_exit(KVM_BAD_API);
	_exit(kvm_guest(kvm));
}

/* Waits for the child until the deadline; kills it (by its PID) if it hangs. */
static int kvm_wait(pid_t pid, int *status)
{
	for (int waited = 0; waited < KVM_PROBE_TIMEOUT_MS; waited += 10) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return -ETIMEDOUT;
}

int ppn_lv_kvm_probe(const char *device, char **why)
{
	int status = 0, code, r;
	pid_t pid;

	if (access(device, F_OK) < 0) {
		*why = ppn_xasprintf("%s does not exist", device);
		return 0;
	}
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		kvm_child(device);

	r = kvm_wait(pid, &status);
	if (r == -ETIMEDOUT) {
		*why = ppn_xasprintf("a test guest hung in KVM_RUN for %d ms",
				     KVM_PROBE_TIMEOUT_MS);
		return 0;
	}
	if (r < 0 || !WIFEXITED(status))
		return r < 0 ? r : -EIO;
	code = WEXITSTATUS(status);
	*why = ppn_xstrdup(code < KVM_STEP_COUNT ? kvm_step_text[code] : "the probe failed");
	return code == KVM_OK;
}

/* ---- Memory ---- */

static int meminfo(uint64_t *total, uint64_t *available)
{
	_cleanup_fclose_ FILE *file = fopen("/proc/meminfo", "re");
	char line[256];
	uint64_t kib;

	if (!file)
		return -errno;
	while (fgets(line, sizeof(line), file)) {
		if (sscanf(line, "MemTotal: %" SCNu64 " kB", &kib) == 1)
			*total = kib * 1024;
		else if (sscanf(line, "MemAvailable: %" SCNu64 " kB", &kib) == 1)
			*available = kib * 1024;
	}
	return 0;
}

/* The test driver enforces no capacity and cannot say what is free on a custom node file:
 * free is what the node file declares minus what the running domains were given. */
static uint64_t test_driver_available(virConnectPtr conn, uint64_t total)
{
	virDomainPtr *domains = NULL;
	uint64_t used = 0;
	int n = virConnectListAllDomains(conn, &domains, VIR_CONNECT_LIST_DOMAINS_ACTIVE);

	for (int i = 0; i < n; i++) {
		virDomainInfo info;

		if (virDomainGetInfo(domains[i], &info) == 0)
			used += (uint64_t)info.maxMem * 1024;
		virDomainFree(domains[i]);
	}
	free(domains);
	return used < total ? total - used : 0;
}

static void host_memory(struct ppn_lv_state *state, struct ppn_facts *facts)
{
	virNodeInfo info;
	unsigned long long free_bytes;

	int r;

	if (state->uri && ppn_lv_uri_is_local(state->uri)) {
		r = meminfo(&facts->memory_total, &facts->memory_available);
		if (r < 0)
			lv_warn(state, "libvirt/facts: cannot read /proc/meminfo: %s",
				strerror(-r));
		return;
	}
	if (!state->conn || virNodeGetInfo(state->conn, &info) < 0)
		return;
	facts->memory_total = (uint64_t)info.memory * 1024;
	if (ppn_lv_uri_is_test(state->uri)) {
		facts->memory_available = test_driver_available(state->conn, facts->memory_total);
		return;
	}
	free_bytes = virNodeGetFreeMemory(state->conn);
	facts->memory_available = free_bytes;
}

/* KVM is probed on this machine only: for the test driver or a remote host it is unknown. */
static void host_kvm(struct ppn_lv_state *state, struct ppn_facts *facts)
{
	_cleanup_free_ char *why = NULL;
	int r;

	if (!state->uri || !ppn_lv_uri_is_local(state->uri)) {
		free(state->kvm_reason);
		state->kvm_reason = ppn_xstrdup("not probed: the hypervisor is not this machine's");
		return;
	}
	r = ppn_lv_kvm_probe(KVM_DEVICE, &why);
	free(state->kvm_reason);
	state->kvm_reason = ppn_xasprintf("%s", why ? why : strerror(-r));
	facts->kvm_known = r >= 0;
	facts->kvm_usable = r > 0;
}

static void apply_override(const struct ppn_lv_state *state, struct ppn_facts *facts)
{
	if (state->override_memory_total)
		facts->memory_total = state->override.memory_total;
	if (state->override_memory_available)
		facts->memory_available = state->override.memory_available;
	if (state->override_kvm) {
		facts->kvm_known = true;
		facts->kvm_usable = state->override.kvm_usable;
	}
}

int ppn_lv_facts(struct ppn_lv_state *state, struct ppn_facts *out)
{
	struct ppn_facts facts = {0};

	if (!state->facts_ready && !state->override_kvm) {
		host_kvm(state, &state->facts);
		state->facts_ready = true;
	}
	facts.kvm_known = state->facts.kvm_known;
	facts.kvm_usable = state->facts.kvm_usable;
	host_memory(state, &facts);
	apply_override(state, &facts);
	*out = facts;
	return 0;
}

/* ---- Override file ---- */

static int override_size(const char *key, json_t *value, uint64_t *out, bool *set, char **why)
{
	if (!json_is_integer(value) || json_integer_value(value) < 0) {
		*why = ppn_xasprintf("'%s' must be a number of bytes (an integer >= 0)", key);
		return -EINVAL;
	}
	*out = (uint64_t)json_integer_value(value);
	*set = true;
	return 0;
}

static int override_key(struct ppn_lv_state *state, const char *key, json_t *value, char **why)
{
	if (strcmp(key, "memoryTotal") == 0)
		return override_size(key, value, &state->override.memory_total,
				     &state->override_memory_total, why);
	if (strcmp(key, "memoryAvailable") == 0)
		return override_size(key, value, &state->override.memory_available,
				     &state->override_memory_available, why);
	if (strcmp(key, "kvm") != 0) {
		*why = ppn_xasprintf("unknown key '%s' (expected memoryTotal, memoryAvailable "
				     "or kvm)",
				     key);
		return -EINVAL;
	}
	if (!json_is_boolean(value)) {
		*why = ppn_xstrdup("'kvm' must be true or false");
		return -EINVAL;
	}
	state->override.kvm_usable = json_is_true(value);
	state->override_kvm = true;
	return 0;
}

static int override_parse(struct ppn_lv_state *state, const char *path)
{
	json_error_t error;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &error);
	_cleanup_free_ char *why = NULL;
	const char *key;
	json_t *value;
	int r = 0;

	if (!root) {
		lv_err(state, "%s:%d:%d: %s", path, error.line, error.column, error.text);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		lv_err(state, "%s:1:1: expected a JSON object of facts", path);
		json_decref(root);
		return -EINVAL;
	}
	json_object_foreach(root, key, value)
	{
		r = override_key(state, key, value, &why);
		if (r < 0)
			break;
	}
	json_decref(root);
	if (r < 0)
		lv_err(state, "%s: %s", path, why);
	return r;
}

int ppn_lv_facts_load_override(struct ppn_lv_state *state)
{
	const char *env = getenv(PPN_LV_ENV_FACTS);
	_cleanup_free_ char *path = NULL;
	int r;

	if (env && *env)
		path = ppn_xstrdup(env);
	else if (state->state_dir)
		path = ppn_xasprintf("%s/facts.override", state->state_dir);
	if (!path || (!(env && *env) && access(path, F_OK) < 0))
		return 0;

	r = override_parse(state, path);
	if (r < 0)
		return r;
	state->facts_override = PPN_TAKE_PTR(path);
	free(state->log_suffix);
	state->log_suffix =
		ppn_xasprintf("; facts overridden by %s (simulation)", state->facts_override);
	return 0;
}
