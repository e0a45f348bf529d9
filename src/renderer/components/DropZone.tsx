import { useRef, useState, type DragEvent, type KeyboardEvent } from 'react';

interface Props {
  onFiles: (files: File[]) => void;
  disabled?: boolean;
  label?: string;
  /** Of the hidden file input (default `image-input`; another drop zone on the page needs its own). */
  inputTestId?: string;
}

/** Drop target + file picker for images. Keyboard: focus it and press Enter or Space. */
export function DropZone({ onFiles, disabled = false, label = 'Drop images here or click to choose', inputTestId = 'image-input' }: Props) {
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);

  const accept = (list: FileList | null): void => {
    if (!list) return;
    const files = Array.from(list).filter((f) => f.type.startsWith('image/') || /\.(png|jpe?g|webp|bmp|gif|tiff?)$/i.test(f.name));
    if (files.length > 0) onFiles(files);
  };
  const onDrop = (e: DragEvent): void => {
    e.preventDefault();
    setOver(false);
    if (!disabled) accept(e.dataTransfer.files);
  };
  const onKey = (e: KeyboardEvent): void => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      input.current?.click();
    }
  };
  return (
    <div
      className={`drop-zone${over ? ' over' : ''}${disabled ? ' disabled' : ''}`}
      data-testid="drop-zone"
      role="button"
      tabIndex={disabled ? -1 : 0}
      aria-disabled={disabled}
      aria-label={label}
      onClick={() => !disabled && input.current?.click()}
      onKeyDown={onKey}
      onDragOver={(e) => {
        e.preventDefault();
        if (!disabled) setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
    >
      <span aria-hidden="true" className="drop-icon">
        ⤓
      </span>
      <span>{label}</span>
      <input
        ref={input}
        type="file"
        accept="image/*"
        multiple
        hidden
        data-testid={inputTestId}
        aria-label="Choose images"
        onChange={(e) => {
          accept(e.currentTarget.files);
          e.currentTarget.value = '';
        }}
      />
    </div>
  );
}
