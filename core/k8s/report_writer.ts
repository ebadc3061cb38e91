/**
 * Writes one node's report object (report_objects.ts) and finds the Node
 * that owns it.
 *
 * Side effects: GETs the Node; GETs, PUTs and POSTs the report object in
 * the client's namespace. Never creates a CustomResourceDefinition: CRDs
 * are the operator's to apply, and a missing one is a
 * {@linkcode ReportCrdMissingError}.
 *
 * One write is one request in the steady state: the writer remembers the
 * `resourceVersion` of its last write and PUTs against it. A 409 (another
 * writer changed the object) re-reads it and PUTs again (conflict.ts); a
 * 404 (the object was deleted, by the garbage collector or by hand)
 * creates it again.
 */

import { KcmError } from "../errors.ts";
import type { JsonValue } from "../json.ts";
import type { Logger } from "../log.ts";
import type { Clock } from "../poll.ts";
import type { K8sClient } from "./client.ts";
import { retryOnConflict } from "./conflict.ts";
import { isStatus } from "./errors.ts";
import {
  REPORT_GROUP,
  REPORT_VERSION,
  type ReportKind,
  reportPlural,
} from "./report_objects.ts";
import { quote } from "../quote.ts";

type Dict = Record<string, JsonValue>;

/** The CustomResourceDefinition of a report kind is not installed. */
export class ReportCrdMissingError extends KcmError {
  /** The CRD's name, e.g. `nodereports.kcm.intel.com`. */
  readonly crd: string;

  constructor(kind: ReportKind, options: { cause?: unknown } = {}) {
    const crd = `${reportPlural(kind)}.${REPORT_GROUP}`;
    super(
      `the CustomResourceDefinition ${crd} is not installed`,
      1,
      {
        cause: options.cause,
        hint: `apply resources/crd-${
          reportPlural(kind)
        }.yaml (kubectl apply -f ...); kcm does not create CRDs`,
      },
    );
    this.crd = crd;
  }
}

/** The Node a report is about does not exist. */
export class NodeNotFoundError extends KcmError {
  /** The node name that was looked up. */
  readonly node: string;

  constructor(node: string, options: { cause?: unknown } = {}) {
    super(`Node ${quote(node)} does not exist`, 1, {
      cause: options.cause,
      hint:
        "kcm names its reports after NODE_NAME, else the host name: set NODE_NAME to this node's name in Kubernetes (a DaemonSet sets it from spec.nodeName)",
    });
    this.node = node;
  }
}

/**
 * The uid of Node `name`, the owner of its reports; a missing Node is a
 * {@linkcode NodeNotFoundError}.
 */
export async function getNodeUid(
  client: K8sClient,
  name: string,
): Promise<string> {
  try {
    const node = await client.request<{ metadata: { uid: string } }>(
      "GET",
      `/api/v1/nodes/${encodeURIComponent(name)}`,
    );
    return node.metadata.uid;
  } catch (error) {
    if (isStatus(error, 404)) {
      throw new NodeNotFoundError(name, { cause: error });
    }
    throw error;
  }
}

/** How {@linkcode ReportWriter.write} ended. */
export type WriteResult = "created" | "replaced";

/** Options of {@linkcode ReportWriter.write}. */
export interface WriteOptions {
  /** Waits between conflict retries. */
  readonly clock: Clock;
  /** Where a DEBUG line per conflict goes. */
  readonly log?: Logger | undefined;
}

interface Written {
  metadata: { resourceVersion: string };
}

/** Writes the report object of one kind and node, remembering its version. */
export class ReportWriter {
  readonly #kind: ReportKind;
  #resourceVersion: string | undefined;

  constructor(kind: ReportKind) {
    this.#kind = kind;
  }

  /** Forgets the remembered version: the next write reads the object first. */
  forget(): void {
    this.#resourceVersion = undefined;
  }

  /**
   * Creates or replaces `object` (a {@linkcode reportObject}) in the
   * client's namespace.
   */
  async write(
    client: K8sClient,
    object: Dict,
    options: WriteOptions,
  ): Promise<WriteResult> {
    const name = (object.metadata as Dict).name as string;
    const collection = `/apis/${REPORT_GROUP}/${REPORT_VERSION}/namespaces/${
      encodeURIComponent(client.namespace)
    }/${reportPlural(this.#kind)}`;
    const path = `${collection}/${encodeURIComponent(name)}`;
    return await retryOnConflict(async () => {
      const version = this.#resourceVersion ??
        await this.#currentVersion(client, path);
      if (version !== undefined) {
        try {
          const replaced = await client.request<Written>("PUT", path, {
            body: {
              ...object,
              metadata: {
                ...(object.metadata as Dict),
                resourceVersion: version,
              },
            },
          });
          this.#resourceVersion = replaced.metadata.resourceVersion;
          return "replaced";
        } catch (error) {
          this.#resourceVersion = undefined;
          if (!isStatus(error, 404)) throw error; // 409: read again
        }
      }
      try {
        const created = await client.request<Written>("POST", collection, {
          body: object,
        });
        this.#resourceVersion = created.metadata.resourceVersion;
        return "created";
      } catch (error) {
        // A 404 on a collection: the resource type is not served.
        if (isStatus(error, 404)) {
          throw new ReportCrdMissingError(this.#kind, { cause: error });
        }
        throw error; // 409: created meanwhile, read again
      }
    }, options);
  }

  /** The object's resourceVersion, undefined when it does not exist. */
  async #currentVersion(
    client: K8sClient,
    path: string,
  ): Promise<string | undefined> {
    try {
      return (await client.request<Written>("GET", path)).metadata
        .resourceVersion;
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }
}
