import assert from "node:assert/strict";
import {
  formatListenAddress,
  ListenAddressSyntaxError,
  parseListenAddress,
} from "../../core/listen_address.ts";

Deno.test("parseListenAddress() reads host:port, [ipv6]:port and :port", () => {
  const cases: [string, string, number][] = [
    ["127.0.0.1:9100", "127.0.0.1", 9100],
    ["0.0.0.0:9100", "0.0.0.0", 9100],
    [":9100", "0.0.0.0", 9100],
    ["localhost:8080", "localhost", 8080],
    ["node-1.example.com:1", "node-1.example.com", 1],
    ["[::1]:9100", "::1", 9100],
    ["[::]:65535", "::", 65535],
    ["127.0.0.1:0", "127.0.0.1", 0],
  ];
  for (const [input, hostname, port] of cases) {
    const parsed = parseListenAddress(input);
    assert.deepEqual(parsed, { hostname, port }, input);
    if (!input.startsWith(":")) {
      assert.equal(formatListenAddress(parsed), input);
    }
  }
});

Deno.test("parseListenAddress() rejects what is not host:port", () => {
  const cases: [string, RegExp][] = [
    // no port
    ["9100", /expected "<host>:<port>"/],
    ["127.0.0.1", /expected "<host>:<port>"/],
    // bad port
    ["127.0.0.1:", /port "" is not a number from 0 to 65535/],
    ["127.0.0.1:65536", /port "65536"/],
    ["127.0.0.1:http", /port "http"/],
    ["127.0.0.1:-1", /port "-1"/],
    ["127.0.0.1: 9100", /port " 9100"/],
    // bad host
    ["::1:9100", /IPv6 address in brackets/],
    ["[not-v6]:9100", /"not-v6" is not an IPv6 address/],
    ["bad host:9100", /"bad host" is not a host name or address/],
    ["-x:9100", /"-x" is not a host name/],
  ];
  for (const [input, message] of cases) {
    assert.throws(
      () => parseListenAddress(input),
      (error: unknown) =>
        error instanceof ListenAddressSyntaxError &&
        error.input === input &&
        message.test(error.message) &&
        error.message.startsWith(`Cannot parse listen address "${input}"`),
      input,
    );
  }
});
