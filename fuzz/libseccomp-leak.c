/* A memory leak in libseccomp 2.5.4 found by husk's seccomp fuzz target
 * (see lsan.supp). Build and run:
 *
 *   gcc -fsanitize=address -g libseccomp-leak.c -lseccomp && ./a.out
 *
 * LeakSanitizer: "Indirect leak of 384 byte(s) in 4 object(s)" allocated in
 * libseccomp. Dropping either conditional rule, or the x86 architecture,
 * makes it go away.
 */
#include <seccomp.h>

int main(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(1));
	int s = seccomp_syscall_resolve_name("socket");

	seccomp_arch_add(ctx, SCMP_ARCH_X86);
	seccomp_rule_add(ctx, SCMP_ACT_ALLOW, s, 1, SCMP_A4(SCMP_CMP_LT, 38));
	seccomp_rule_add(ctx, SCMP_ACT_ALLOW, s, 1, SCMP_A1(SCMP_CMP_EQ, 39));
	seccomp_rule_add(ctx, SCMP_ACT_ALLOW, s, 0);
	seccomp_release(ctx);
	return 0;
}
