// Egress policy for sink endpoints: which addresses a sink may connect to,
// enforced by an undici connector on the address actually resolved.
export { CidrError, parseCidr } from "./address.js";
export {
  EndpointForbiddenError,
  addressesOf,
  guardedConnector,
  systemLookup,
  type GuardedConnectorOptions,
  type LookupAll,
} from "./connector.js";
export { EGRESS_DEFAULTS, EgressPolicy, type EgressPolicyOptions, type EgressVerdict } from "./policy.js";
