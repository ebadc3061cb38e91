/**
 * The `<host>:<port>` value of `--metrics-listen`, parsed once into a
 * hostname and a port. Pure.
 */

import { quote } from "./quote.ts";

/** Where a server listens. */
export interface ListenAddress {
  /** An IPv4 or IPv6 address (without brackets) or a host name. */
  readonly hostname: string;
  /** 0 to 65535; 0 lets the system pick a free port. */
  readonly port: number;
}

/** A listen address that cannot be parsed; `input` is the bad value. */
export class ListenAddressSyntaxError extends SyntaxError {
  readonly input: string;

  constructor(input: string, problem: string) {
    super(`Cannot parse listen address ${quote(input)}: ${problem}`);
    this.name = "ListenAddressSyntaxError";
    this.input = input;
  }
}

const HOST_NAME = /^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/;
const IPV6 = /^[0-9a-fA-F:.]+$/;

/**
 * Parses `host:port`, `[ipv6]:port` or `:port` (all interfaces, `0.0.0.0`).
 *
 * @example
 * ```ts
 * import { parseListenAddress } from "./listen_address.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseListenAddress("127.0.0.1:9100"), { hostname: "127.0.0.1", port: 9100 });
 * assert.deepEqual(parseListenAddress("[::1]:9100"), { hostname: "::1", port: 9100 });
 * assert.deepEqual(parseListenAddress(":9100"), { hostname: "0.0.0.0", port: 9100 });
 * ```
 */
export function parseListenAddress(input: string): ListenAddress {
  const colon = input.lastIndexOf(":");
  if (colon === -1) {
    throw new ListenAddressSyntaxError(input, 'expected "<host>:<port>"');
  }
  let host = input.slice(0, colon);
  const portText = input.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new ListenAddressSyntaxError(
      input,
      `port ${quote(portText)} is not a number from 0 to 65535`,
    );
  }
  if (host.startsWith("[") && host.endsWith("]")) {
    host = host.slice(1, -1);
    if (!IPV6.test(host) || !host.includes(":")) {
      throw new ListenAddressSyntaxError(
        input,
        `${quote(host)} is not an IPv6 address`,
      );
    }
  } else if (host === "") {
    host = "0.0.0.0";
  } else if (host.includes(":")) {
    throw new ListenAddressSyntaxError(
      input,
      "write an IPv6 address in brackets, as [::1]:9100",
    );
  } else if (!HOST_NAME.test(host)) {
    throw new ListenAddressSyntaxError(
      input,
      `${quote(host)} is not a host name or address`,
    );
  }
  return { hostname: host, port: Number(portText) };
}

/** `host:port`, with brackets around IPv6 addresses. */
export function formatListenAddress(address: ListenAddress): string {
  return address.hostname.includes(":")
    ? `[${address.hostname}]:${address.port}`
    : `${address.hostname}:${address.port}`;
}
