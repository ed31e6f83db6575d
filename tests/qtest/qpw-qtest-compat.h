/*
 * Our qtests: the headers whose paths differ between the QEMU versions
 * they are built in (7.2, 10.0, 10.2).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QPW_QTEST_COMPAT_H
#define QPW_QTEST_COMPAT_H

/* QObject's headers left qapi/qmp/ for qobject/ in 10.0. */
#if QEMU_VERSION_MAJOR >= 10
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#else
#include "qapi/qmp/qdict.h"
#include "qapi/qmp/qlist.h"
#endif

#endif /* QPW_QTEST_COMPAT_H */
