/*
 * MsbDbusAuth's group rule (DBusAdminGroup without polkit): membership from the user database,
 * primary group included, a missing user or group admitting nobody. Checked against this
 * machine's own database: root and its primary group, the current user and its groups.
 */
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "msb-dbus-auth.h"

static gchar *
group_name(gid_t gid)
{
	struct group *gr = getgrgid(gid);

	g_assert_nonnull(gr);
	return g_strdup(gr->gr_name);
}

static void
test_primary_group(void)
{
	struct passwd *pw = getpwuid(getuid());
	g_autofree gchar *primary = NULL;
	g_autofree gchar *root_group = group_name(0);

	g_assert_nonnull(pw);
	primary = group_name(pw->pw_gid);
	g_assert_true(msb_dbus_auth_uid_in_group(getuid(), primary));
	/* uid 0's primary group is gid 0 */
	g_assert_true(msb_dbus_auth_uid_in_group(0, root_group));
}

static void
test_supplementary_groups(void)
{
	struct passwd *pw = getpwuid(getuid());
	gid_t groups[256];
	gint n = G_N_ELEMENTS(groups);

	g_assert_nonnull(pw);
	g_assert_cmpint(getgrouplist(pw->pw_name, pw->pw_gid, groups, &n), >=, 0);
	for (gint i = 0; i < n; i++) {
		g_autofree gchar *name = group_name(groups[i]);
		g_assert_true(msb_dbus_auth_uid_in_group(getuid(), name));
	}
}

static void
test_not_member(void)
{
	g_autofree gchar *root_group = group_name(0);

	g_assert_false(msb_dbus_auth_uid_in_group(0, "msb-test-no-such-group"));
	/* no such user */
	g_assert_false(msb_dbus_auth_uid_in_group(4000000000u, root_group));
	/* nobody (65534) is not in root's group */
	if (getpwuid(65534) != NULL)
		g_assert_false(msb_dbus_auth_uid_in_group(65534, root_group));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/dbus-auth/primary-group", test_primary_group);
	g_test_add_func("/dbus-auth/supplementary-groups", test_supplementary_groups);
	g_test_add_func("/dbus-auth/not-member", test_not_member);
	return g_test_run();
}
