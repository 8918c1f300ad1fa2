import * as grpc from '@grpc/grpc-js';
import type { ControlHandlers, ImageFetchProgressInput } from '@pisched/api';
import { ImagePushRefused, type Dispatcher } from '../dispatcher/dispatcher';
import { ApiError, toServiceError } from './grpc-errors';

export type ImageCalls = 'PushImage';

/** `pisched image push`: the leader's dispatcher moves the image node to node; progress streams back. */
export function imageHandlers(dispatcher: Pick<Dispatcher, 'pushImage'>): Pick<ControlHandlers, ImageCalls> {
  return {
    PushImage: (call: grpc.ServerWritableStream<{ image: string; nodes: string[] }, ImageFetchProgressInput>) => {
      const image = call.request.image.trim();
      if (image === '') {
        call.emit('error', toServiceError(new ApiError(grpc.status.INVALID_ARGUMENT, 'an image reference is required, e.g. myapp:latest')));
        return;
      }
      let stop = () => {};
      let ended = false;
      call.on('cancelled', () => {
        ended = true;
        stop();
      });
      dispatcher
        .pushImage(image, call.request.nodes ?? [], (progress) => call.write(progress), () => {
          ended = true;
          call.end();
        })
        .then(
          (cancel) => {
            stop = cancel;
            if (ended) cancel();
          },
          (error: Error) => {
            const status = error instanceof ImagePushRefused ? grpc.status.FAILED_PRECONDITION : grpc.status.INTERNAL;
            call.emit('error', toServiceError(new ApiError(status, error.message)));
          },
        );
    },
  };
}
