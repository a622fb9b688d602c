/*
 * preprocess.h - CLIP image preprocessing, exactly as Hugging Face's
 * CLIPImageProcessor (transformers 4.57.1, Pillow backend) computes it:
 * resize the shortest side with Pillow's BICUBIC, centre crop (zero padding
 * when the image is smaller than the crop), rescale, normalise.
 *
 * The reference's uint8 intermediate (after resize and crop) is reproduced
 * bit for bit, and so is its float32 output; see preprocess.c for how and
 * docs/images.md for the measurements.
 */
#ifndef IRIS_MEDIA_PREPROCESS_H
#define IRIS_MEDIA_PREPROCESS_H

#include "iris.h"

#include <stdint.h>

/* Size after HF's shortest-edge resize (get_resize_output_image_size with
 * default_to_square=False): the shorter side becomes `shortest`, the
 * longer one int(shortest * long / short). */
void media_resize_dims(int w, int h, int shortest, int *out_w, int *out_h);

/* Pillow's Image.resize(..., BICUBIC) on 8-bit RGB (stride 3 * width):
 * separable, horizontal pass first, antialiased (support scaled by the
 * downscale factor), fixed-point coefficients. src and dst must not
 * overlap. Returns IRIS_EARG / IRIS_ENOMEM on failure. */
int media_resize_bicubic(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh);
/* The same without SIMD: the reference the fast path is tested against. */
int media_resize_bicubic_scalar(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh);

/* Resize (shortest side -> resize_shortest) then centre-crop to a
 * crop x crop RGB image as HF's center_crop: offsets (size - crop) // 2
 * with floor division, pixels outside the resized image are 0. */
int media_resize_crop(const iris_image *img, int resize_shortest, int crop, uint8_t *out_rgb);

/* The whole pipeline: out receives 3 x crop x crop floats, channel-major,
 * ((float)(v * rescale) - mean[c]) / std[c] in float32 as numpy does.
 * rescale is the processor's rescale_factor (1/255 for CLIP); mean and std
 * its image_mean / image_std. Thread-safe, no global state. */
int media_preprocess(const iris_image *img, int resize_shortest, int crop, double rescale,
                     const float mean[3], const float std[3], float *out);

#endif
