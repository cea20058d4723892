// HTTP for the soak, one connection per request (agent: false, `Connection: close`): a
// keep-alive pool would leave idle sockets in the broker's descriptor table at the quiet
// points where descriptors are counted.
import http from 'node:http';

/** Resolves {status, body}; rejects with code 'ETIMEDOUT' after timeoutMs of silence. */
export function request(url, { method = 'GET', headers = {}, body, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false, timeout: timeoutMs }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: data }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}
