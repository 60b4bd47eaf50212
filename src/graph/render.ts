/**
 * How a call is seen through the Graph API: the `#microsoft.graph.call` that GET returns and notifications
 * carry, and the `commsNotifications` envelope. Pure functions of the stored call.
 */
import type { Call } from '../calls/model.js';
import { participantInfo, type ChangeType, type CommsNotifications, type GraphCall } from './types.js';

export function renderCall(call: Call): GraphCall {
  const graph: GraphCall = {
    '@odata.type': '#microsoft.graph.call',
    id: call.id,
    state: call.state,
    direction: 'incoming',
    callbackUri: call.callbackUri,
    source: participantInfo(call.source),
    targets: [{ '@odata.type': '#microsoft.graph.invitationParticipantInfo', identity: call.callee, endpointType: 'default' }],
    tenantId: call.tenantId,
    myParticipantId: call.myParticipantId,
    callChainId: call.callChainId,
    requestedModalities: ['audio'],
  };
  if (call.resultInfo) graph.resultInfo = call.resultInfo;
  if (call.answeredBy) graph.answeredBy = { ...participantInfo(call.answeredBy.identity), endpointType: 'default' };
  if (call.state === 'terminated' && call.resultInfo) graph.terminationReason = call.resultInfo.message;
  return graph;
}

export function renderNotification(call: Call, changeType: ChangeType, notificationId: string): CommsNotifications {
  return {
    '@odata.type': '#microsoft.graph.commsNotifications',
    '@switchboard.notificationId': notificationId,
    value: [
      {
        '@odata.type': '#microsoft.graph.commsNotification',
        changeType,
        resource: `/app/calls/${call.id}`,
        resourceUrl: `/communications/calls/${call.id}`,
        resourceData: renderCall(call),
      },
    ],
  };
}
