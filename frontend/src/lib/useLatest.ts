import { useLayoutEffect, useRef } from 'react';

/** A ref that always holds the latest `value`, for callbacks that outlive a render (socket
 *  handlers, editor listeners, timers). It is updated after the render commits (a layout effect
 *  runs before any of the component's effects), never during render. Read `.current` only in
 *  effects and event handlers. */
export function useLatest<T>(value: T) {
  const ref = useRef(value);
  useLayoutEffect(() => {
    ref.current = value;
  });
  return ref;
}
