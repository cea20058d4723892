#!/bin/sh
# broker-under-valgrind.sh — stands in for qrlogin-broker (QRLOGIN_BROKER) so that every
# broker a black-box test starts runs under memcheck. A leak or a memory error turns the
# exit status into 99, and the harness asserts a clean exit 0 when it stops a broker.
# Environment: QRLOGIN_REAL_BROKER (the binary), VALGRIND.
exec "${VALGRIND:-valgrind}" -q --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=30 \
    "${QRLOGIN_REAL_BROKER:?}" "$@"
