/**
 * The transport seam: the one WebSocket, as the browser's WebSocket and the `ws` package both
 * provide it. Only what the engine uses is named.
 */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'open' | 'close' | 'error', listener: () => void): void;
}

export type CreateSocket = (url: string) => SocketLike;

/** `WebSocket.OPEN` and `WebSocket.CLOSED`, which not every global defines outside a browser. */
export const SOCKET_OPEN = 1;
export const SOCKET_CLOSED = 3;
