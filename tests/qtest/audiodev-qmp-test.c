/*
 * QMP query-audiodevs: the configured audiodevs with their options.
 *
 * The pipewire cases need a PipeWire daemon: tests/run-qtest runs the
 * qtests inside a private headless one (scripts/pw-harness).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qpw-qtest-compat.h"

/* Start QEMU with @args and return the audiodev called @id from QMP. */
static QDict *query_audiodev(QTestState *qts, const char *id)
{
    QDict *resp = qtest_qmp(qts, "{ 'execute': 'query-audiodevs' }");
    QList *list = qdict_get_qlist(resp, "return");
    QListEntry *e;
    QDict *found = NULL;

    g_assert(list);
    QLIST_FOREACH_ENTRY(list, e) {
        QDict *dev = qobject_to(QDict, qlist_entry_obj(e));

        if (!strcmp(qdict_get_str(dev, "id"), id)) {
            found = dev;
            qobject_ref(found);
        }
    }
    qobject_unref(resp);
    g_assert_nonnull(found);
    return found;
}

static void test_generic_audiodevs(void)
{
    QTestState *qts = qtest_init(
        "-nic none -audiodev none,id=silent "
        "-audiodev '{\"id\":\"file\",\"driver\":\"wav\","
        "\"path\":\"/dev/null\",\"out\":{\"frequency\":48000}}'");
    QDict *silent = query_audiodev(qts, "silent");
    QDict *file = query_audiodev(qts, "file");
    QDict *out = qdict_get_qdict(file, "out");

    g_assert_cmpstr(qdict_get_str(silent, "driver"), ==, "none");
    g_assert_cmpstr(qdict_get_str(file, "driver"), ==, "wav");
    g_assert_cmpstr(qdict_get_str(file, "path"), ==, "/dev/null");
    g_assert_cmpint(qdict_get_int(out, "frequency"), ==, 48000);
    /* Defaults are filled in: the generic ones keep QEMU's mixing engine. */
    g_assert_true(qdict_get_bool(out, "mixing-engine"));
    g_assert_cmpint(qdict_get_int(file, "timer-period"), ==, 10000);
    qobject_unref(silent);
    qobject_unref(file);
    qtest_quit(qts);
}

static void test_pipewire_options(void)
{
    QTestState *qts = qtest_init(
        "-nic none -audiodev '{\"id\":\"pw\",\"driver\":\"pipewire\","
        "\"out\":{\"name\":\"speakers\",\"stream-name\":\"guest-out\","
        "\"latency\":20000,\"min-quantum\":2000},"
        "\"in\":{\"frequency\":44100}}'");
    QDict *pw = query_audiodev(qts, "pw");
    QDict *out = qdict_get_qdict(pw, "out");
    QDict *in = qdict_get_qdict(pw, "in");

    g_assert_cmpstr(qdict_get_str(pw, "driver"), ==, "pipewire");
    g_assert_cmpstr(qdict_get_str(out, "name"), ==, "speakers");
    g_assert_cmpstr(qdict_get_str(out, "stream-name"), ==, "guest-out");
    g_assert_cmpint(qdict_get_int(out, "latency"), ==, 20000);
    g_assert_cmpint(qdict_get_int(out, "min-quantum"), ==, 2000);
    /* PipeWire converts itself: streams pass through unless asked. */
    g_assert_false(qdict_get_bool(out, "mixing-engine"));
    g_assert_false(qdict_get_bool(out, "fixed-settings"));
    /* An explicit frequency keeps the mixing engine, as the user asked. */
    g_assert_true(qdict_get_bool(in, "mixing-engine"));
    g_assert_cmpint(qdict_get_int(in, "frequency"), ==, 44100);
    /* The backend fills in its default latency and quantum floor. */
    g_assert_cmpint(qdict_get_int(in, "latency"), ==, 46440);
    g_assert_cmpint(qdict_get_int(in, "min-quantum"), ==, 2666);
    qobject_unref(pw);
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/audiodev/query-audiodevs/generic",
                   test_generic_audiodevs);
    qtest_add_func("/audiodev/query-audiodevs/pipewire",
                   test_pipewire_options);
    return g_test_run();
}
