/**
 * graph/ — the Microsoft Graph contract: wire types, request schemas, the error catalogue and how a call
 * is rendered as a `#microsoft.graph.call`. Nothing here knows about storage, HTTP servers or timers.
 *
 * This file: the Graph wire types Switchboard reads and writes. Microsoft's typings
 * (`@microsoft/microsoft-graph-types-beta`) give the enums; identity sets are the communications flavour
 * (`phone`, `applicationInstance`, `encrypted` ...), which the typings' `IdentitySet` does not list.
 */
import type { CallState, RoutingPolicy } from '@microsoft/microsoft-graph-types-beta';

export type { CallState, RoutingPolicy };

export const IDENTITY_KINDS = ['user', 'application', 'applicationInstance', 'phone', 'guest', 'encrypted'] as const;
export type IdentityKind = (typeof IDENTITY_KINDS)[number];

export interface Identity {
  '@odata.type'?: string;
  id: string;
  displayName?: string;
  tenantId?: string;
}

/** A communicationsIdentitySet: exactly one kind is set in everything Switchboard emits. */
export type IdentitySet = { '@odata.type'?: string } & { [K in IdentityKind]?: Identity };

export interface ParticipantInfo {
  '@odata.type': '#microsoft.graph.participantInfo';
  identity: IdentitySet;
  endpointType?: string;
  region?: string | null;
}

export interface InvitationParticipantInfo {
  '@odata.type'?: string;
  identity: IdentitySet;
  endpointType?: string;
  replacesCallId?: string;
  hidden?: boolean;
  participantId?: string;
}

export interface ResultInfo {
  '@odata.type'?: '#microsoft.graph.resultInfo';
  code: number;
  subcode: number;
  message: string;
}

export interface GraphCall {
  '@odata.type': '#microsoft.graph.call';
  id: string;
  state: CallState;
  direction: 'incoming' | 'outgoing';
  callbackUri: string;
  source: ParticipantInfo;
  targets: Array<InvitationParticipantInfo & { '@odata.type': string }>;
  tenantId: string;
  myParticipantId: string;
  callChainId: string;
  requestedModalities: string[];
  resultInfo?: ResultInfo;
  answeredBy?: ParticipantInfo;
  terminationReason?: string;
}

export type ChangeType = 'created' | 'updated' | 'deleted';

export interface CommsNotification {
  '@odata.type': '#microsoft.graph.commsNotification';
  changeType: ChangeType;
  resource: string;
  resourceUrl: string;
  resourceData: GraphCall;
}

export interface CommsNotifications {
  '@odata.type': '#microsoft.graph.commsNotifications';
  '@switchboard.notificationId': string;
  value: CommsNotification[];
}

/** The one identity of a set, with its kind; undefined when the set names none. */
export function identityOf(set: IdentitySet | undefined): { kind: IdentityKind; identity: Identity } | undefined {
  if (!set) return undefined;
  for (const kind of IDENTITY_KINDS) {
    const identity = set[kind];
    if (identity && typeof identity === 'object') return { kind, identity };
  }
  return undefined;
}

/** An identitySet holding one identity, annotated the way Microsoft's service annotates it. */
export function identitySet(kind: IdentityKind, identity: Identity): IdentitySet {
  const clean: Identity = { '@odata.type': '#microsoft.graph.identity', id: identity.id };
  if (identity.displayName !== undefined) clean.displayName = identity.displayName;
  if (identity.tenantId !== undefined) clean.tenantId = identity.tenantId;
  return { '@odata.type': '#microsoft.graph.identitySet', [kind]: clean };
}

export function participantInfo(identity: IdentitySet): ParticipantInfo {
  return { '@odata.type': '#microsoft.graph.participantInfo', identity };
}
