import type { VapixClient } from '../../../protocol/vapix/client.js';

/**
 * The capture step every snapshot path shares (requested and event snapshots): the configured
 * picture unless the caller asks for another resolution or compression, and never more bytes than
 * the configured cap or the caller's, whichever is smaller.
 */
export interface CaptureDefaults {
  resolution: string;
  compression: number;
  maxBytes: number;
}

export interface CaptureWish {
  resolution?: string | undefined;
  compression?: number | undefined;
  maxBytes?: number | undefined;
}

export type CaptureStep = (wish: CaptureWish, signal: AbortSignal) => Promise<Buffer>;

export function createCaptureStep(camera: Pick<VapixClient, 'captureJpeg'>, defaults: CaptureDefaults): CaptureStep {
  return async (wish, signal) => {
    const { jpeg } = await camera.captureJpeg({
      resolution: wish.resolution ?? defaults.resolution,
      compression: wish.compression ?? defaults.compression,
      maxBytes: Math.min(defaults.maxBytes, wish.maxBytes ?? defaults.maxBytes),
      signal,
    });
    return jpeg;
  };
}
