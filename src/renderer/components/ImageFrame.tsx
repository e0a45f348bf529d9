interface Props {
  src?: string | undefined;
  alt: string;
  placeholder?: string;
  testId?: string;
  caption?: string;
  /** Small generated images (demo models) look better with hard pixels. */
  pixelated?: boolean;
}

export function ImageFrame({ src, alt, placeholder = 'No image yet', testId, caption, pixelated = false }: Props) {
  return (
    <figure>
      <div className={`img-frame${pixelated ? ' pixelated' : ''}`} data-testid={testId} data-has-image={src ? 'true' : 'false'}>
        {src ? <img src={src} alt={alt} /> : <span className="placeholder">{placeholder}</span>}
      </div>
      {caption && <figcaption>{caption}</figcaption>}
    </figure>
  );
}
