import type { ReactNode } from 'react';

export interface ImageFrameProps {
  src?: string | undefined;
  alt: string;
  placeholder?: string;
  testId?: string;
  caption?: string;
  /** Small generated images (demo models) look better with hard pixels. */
  pixelated?: boolean;
}

interface Props extends ImageFrameProps {
  /** Drawn over the image, inside the frame (e.g. the attention overlay's canvas). */
  overlay?: ReactNode;
  /** Below the caption (e.g. the attention overlay's controls). */
  children?: ReactNode;
}

export function ImageFrame({ src, alt, placeholder = 'No image yet', testId, caption, pixelated = false, overlay, children }: Props) {
  return (
    <figure>
      <div className={`img-frame${pixelated ? ' pixelated' : ''}`} data-testid={testId} data-has-image={src ? 'true' : 'false'}>
        {src ? <img src={src} alt={alt} /> : <span className="placeholder">{placeholder}</span>}
        {src && overlay}
      </div>
      {caption && <figcaption>{caption}</figcaption>}
      {children}
    </figure>
  );
}
