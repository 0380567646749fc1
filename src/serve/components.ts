// Components started so far, stopped together in reverse order: the most
// downstream first, so what feeds a component stops before it does.
import { errorField, type Logger } from "../util/index.js";

interface Component {
  readonly name: string;
  stop(): Promise<void>;
}

export class Components {
  private readonly started: Component[] = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  add(name: string, stop: () => Promise<void>): void {
    this.started.push({ name, stop });
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const component of [...this.started].reverse()) {
        try {
          await component.stop();
        } catch (error: unknown) {
          this.logger.error("component failed to stop", {
            component: component.name,
            error: errorField(error),
          });
        }
      }
    })();
    return this.stopping;
  }

  /** Runs start; if it throws, stops what was started and rethrows. */
  async startOrStop<T>(start: () => Promise<T>): Promise<T> {
    try {
      return await start();
    } catch (error: unknown) {
      await this.stop();
      throw error;
    }
  }
}
