/** What the dashboard API sends (src/http/dashboard on the server). Times are epoch ms on Switchboard's clock. */

export interface TargetSummary {
  id: string;
  label: string;
  kind: string;
  ringState: string;
  behaviour: string;
  legCallId?: string;
}

export interface CallSummary {
  id: string;
  kind: 'incoming' | 'botLeg';
  parentCallId?: string;
  tenantId: string;
  applicationId: string;
  state: string;
  version: number;
  caller: string;
  callerKind: string;
  callee: string;
  targets: TargetSummary[];
  createdAt: number;
  incomingDeadline?: number;
  redirectAcceptedAt?: number;
  ringDeadline?: number;
  endedAt?: number;
  resultInfo?: { code: number; subcode: number; message: string };
  answeredBy?: string;
}

export interface ClockFields {
  now: number;
  mode: 'real' | 'virtual';
}

export interface SnapshotEvent extends ClockFields {
  calls: CallSummary[];
}

export interface CallsEvent extends ClockFields {
  calls: CallSummary[];
  touched: string[];
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type IdentitySet = Record<string, { id: string; displayName?: string } | string | undefined>;

export interface RecordTarget {
  id: string;
  identity: IdentitySet;
  presentedCaller: IdentitySet;
  ringState: string;
  behaviour?: string;
  forwardedTo?: string;
  forwardedFrom?: string;
  legCallId?: string;
  ringStartedAt?: string;
  endedAt?: string;
}

export interface RecordNotification {
  id: string;
  changeType: string;
  state: string;
  url: string;
  attempts: Array<{ at: string; status?: number; error?: string }>;
  delivered: boolean;
  dead?: boolean;
  nextAttemptAt?: string;
  createdAt?: string;
  body?: Json;
}

export interface CallRecord {
  id: string;
  kind: 'incoming' | 'botLeg';
  parentCallId?: string;
  tenantId: string;
  applicationId: string;
  state: string;
  resultInfo?: { code: number; subcode: number; message: string };
  answeredBy?: { identity: IdentitySet };
  createdAt: string;
  incomingDeadline?: string;
  endedAt?: string;
  callbackUri: string;
  redirect?: { timeout: number; maskCaller: boolean; maskCallee: boolean; disableForwarding: boolean; acceptedAt: string; ringDeadline: string };
  caller: { identity: IdentitySet; presentedCallee?: IdentitySet };
  callee: { identity: IdentitySet };
  targets: RecordTarget[];
  history: Array<{ at: string; type: string; [key: string]: Json | undefined }>;
  notifications: RecordNotification[];
}

export interface GraphRequestEntry {
  at: number;
  method: string;
  path: string;
  route: string;
  status: number;
  durationMs: number;
  requestId: string;
  applicationId?: string;
  body?: Json;
  error?: Json;
}

export interface CallDetail extends ClockFields {
  record: CallRecord;
  graphRequests: GraphRequestEntry[];
}

export interface Behaviour {
  answerAfter?: number;
  decline?: boolean;
  after?: number;
  busy?: boolean;
  noAnswer?: boolean;
  unreachable?: boolean;
  manual?: boolean;
  forwardTo?: string;
}

export interface DirectoryView {
  tenants: Array<{
    id: string;
    displayName?: string;
    applications: Array<{
      id: string;
      displayName?: string;
      roles: string[];
      callbackUri: string;
      credentials: string[];
      instances: Array<{ id: string; displayName?: string; phone?: string }>;
      behaviour?: Behaviour;
    }>;
    users: Array<{ id: string; displayName?: string; behaviour: Behaviour }>;
  }>;
  phones: Array<{ number: string; displayName?: string; behaviour: Behaviour }>;
}

export interface Session extends Omit<ClockFields, 'now'> {
  simulator: boolean;
  now: string;
}
