export { Forwarder, FORWARD_DEFAULTS, type ForwarderOptions } from "./forwarder.js";
export {
  INGEST_URL_ANNOTATION,
  Membership,
  MEMBERSHIP_DEFAULTS,
  REPLICA_LABEL,
  type MembershipOptions,
} from "./membership.js";
export {
  ApiCursorStore,
  POSITIONS_DEFAULTS,
  POSITIONS_LABEL,
  type ApiCursorStoreOptions,
} from "./positions.js";
export { Ownership } from "./ownership.js";
export { rendezvousOwner, rendezvousWeight } from "./rendezvous.js";
export {
  DRAINING_ANNOTATION,
  Handover,
  MEMBERS_VIEW_ANNOTATION,
  membersView,
  type HandoverOptions,
} from "./handover.js";
export {
  FLEET_PREVIEW_DEFAULTS,
  FleetPreviewError,
  previewFleet,
  type FleetPreviewOptions,
} from "./preview.js";
export { FleetView, type LiveReplica } from "./view.js";
export {
  FLEET_DELIVERY_DEFAULTS,
  FleetDeliveryError,
  fleetDelivery,
  parsePolicyDelivery,
  type FleetDeliveryOptions,
} from "./delivery.js";
