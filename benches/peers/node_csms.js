// An in-memory central system built on the npm package `ocpp-rpc`, for measuring what `cpms serve` costs
// beside it under the same simulator load (scripts/peer-bench). It answers both OCPP 1.6 and 2.0.1,
// keeps nothing but a transaction counter, checks no password, and sends no calls of its own.
//
// usage: node node_csms.js PORT
const { RPCServer } = require('ocpp-rpc');

const port = Number(process.argv[2]);
let transactions = 0;
const now = () => new Date().toISOString();

const server = new RPCServer({ protocols: ['ocpp1.6', 'ocpp2.0.1'], strictMode: false });

server.auth((accept) => accept());

server.on('client', (client) => {
  const v201 = client.protocol === 'ocpp2.0.1';
  client.handle('BootNotification', () => ({ currentTime: now(), interval: 300, status: 'Accepted' }));
  client.handle('Heartbeat', () => ({ currentTime: now() }));
  client.handle('StatusNotification', () => ({}));
  client.handle('MeterValues', () => ({}));
  client.handle('FirmwareStatusNotification', () => ({}));
  client.handle('DataTransfer', () => ({ status: 'Accepted' }));
  client.handle('NotifyEvent', () => ({}));
  if (v201) {
    client.handle('Authorize', () => ({ idTokenInfo: { status: 'Accepted' } }));
    client.handle('TransactionEvent', ({ params }) =>
      params.idToken ? { idTokenInfo: { status: 'Accepted' } } : {});
  } else {
    client.handle('Authorize', () => ({ idTagInfo: { status: 'Accepted' } }));
    client.handle('StartTransaction', () => ({ transactionId: ++transactions, idTagInfo: { status: 'Accepted' } }));
    client.handle('StopTransaction', () => ({ idTagInfo: { status: 'Accepted' } }));
  }
});

server.listen(port, '127.0.0.1').then(() => console.log(`listening on ${port}`));
