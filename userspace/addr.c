// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * addr: the set of served addresses.
 */
#include <stdio.h>
#include <string.h>

#include "format.h"
#include "ipc.h"
#include "json.h"
#include "parse.h"
#include "report.h"
#include "subcommands.h"

static int addr_list(struct ipc *ipc)
{
	static struct ntpk_model m;
	char buf[FMT_LEN];
	struct json j;
	unsigned int i;
	int err;

	err = ipc_addr_list(ipc, &m);
	if (err)
		return ipc_report(ipc, err, "addr list");
	if (json_output) {
		json_init(&j, stdout);
		json_array_begin(&j, NULL);
		for (i = 0; i < m.naddrs; i++)
			json_string(&j, NULL, format_addr(&m.addrs[i], buf));
		json_array_end(&j);
	} else {
		for (i = 0; i < m.naddrs; i++)
			printf("%s\n", format_addr(&m.addrs[i], buf));
	}
	return EXIT_OK;
}

int addr_main(int argc, char *argv[])
{
	struct ntpk_addr addr;
	const char *why, *verb;
	struct ipc *ipc;
	uint8_t cmd;
	int ret;

	if (argc < 2)
		return usage_error("addr: expected add, del, flush or list");
	verb = argv[1];
	if (!strcmp(verb, "add") || !strcmp(verb, "del")) {
		if (argc != 3)
			return usage_error("addr %s: expected one address", verb);
		why = parse_addr(argv[2], &addr);
		if (why)
			return usage_error("addr %s: invalid address \"%s\": %s",
					   verb, argv[2], why);
		cmd = verb[0] == 'a' ? NTPK_CMD_ADDR_ADD : NTPK_CMD_ADDR_DEL;
	} else if (!strcmp(verb, "flush") || !strcmp(verb, "list")) {
		if (argc != 2)
			return usage_error("addr %s: unexpected \"%s\"", verb,
					   argv[2]);
		cmd = verb[0] == 'f' ? NTPK_CMD_ADDR_FLUSH : NTPK_CMD_ADDR_GET;
	} else {
		return usage_error("addr: unknown word \"%s\"", verb);
	}

	ret = ipc_connect(&ipc);
	if (ret)
		return ret;
	if (cmd == NTPK_CMD_ADDR_GET)
		ret = addr_list(ipc);
	else if (cmd == NTPK_CMD_ADDR_FLUSH)
		ret = ipc_report(ipc, ipc_command(ipc, cmd), "addr flush");
	else
		ret = ipc_report(ipc, ipc_addr(ipc, cmd, &addr), "addr %s %s",
				 verb, argv[2]);
	ipc_close(ipc);
	return ret;
}
