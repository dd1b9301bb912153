#include "passwordstore.h"

#include <qt6keychain/keychain.h>

#include <QLoggingCategory>
#include <QPointer>
#include <QTimer>

#include <memory>

Q_LOGGING_CATEGORY(lcKeyring, "membatch.console.keyring", QtWarningMsg)

namespace {

// Runs a keychain job, calling done once: with the job's outcome, or with
// a timeout. The shared flag makes whichever comes second a no-op.
void runGuarded(QKeychain::Job *job, int timeoutMs, QObject *context,
                const std::function<void(QKeychain::Job *job, bool timedOut)> &done)
{
    auto answered = std::make_shared<bool>(false);
    QObject::connect(job, &QKeychain::Job::finished, context, [answered, done](QKeychain::Job *finished) {
        if (std::exchange(*answered, true))
            return;
        done(finished, false);
    });
    QTimer::singleShot(timeoutMs, context, [answered, done] {
        if (std::exchange(*answered, true))
            return;
        done(nullptr, true);
    });
    job->setAutoDelete(true);
    job->start();
}

} // namespace

PasswordStore::PasswordStore(QObject *parent)
    : QObject(parent)
{
}

void PasswordStore::read(const QString &account)
{
    auto *job = new QKeychain::ReadPasswordJob(service());
    job->setKey(account);
    runGuarded(job, m_timeoutMs, this, [this, account](QKeychain::Job *done, bool timedOut) {
        if (timedOut) {
            qCWarning(lcKeyring) << "reading the keyring entry of" << account << "timed out";
            Q_EMIT passwordRead(false, {}, tr("the keyring did not answer within %1 s").arg(m_timeoutMs / 1000.0));
            return;
        }
        if (done->error() == QKeychain::EntryNotFound) {
            Q_EMIT passwordRead(false, {}, {});
            return;
        }
        if (done->error() != QKeychain::NoError) {
            qCInfo(lcKeyring) << "no keyring:" << done->errorString();
            Q_EMIT passwordRead(false, {}, tr("the keyring cannot be read: %1").arg(done->errorString()));
            return;
        }
        Q_EMIT passwordRead(true, static_cast<QKeychain::ReadPasswordJob *>(done)->textData(), {});
    });
}

void PasswordStore::write(const QString &account, const QString &password)
{
    auto *job = new QKeychain::WritePasswordJob(service());
    job->setKey(account);
    job->setTextData(password);
    runGuarded(job, m_timeoutMs, this, [this, account](QKeychain::Job *done, bool timedOut) {
        if (timedOut) {
            qCWarning(lcKeyring) << "writing the keyring entry of" << account << "timed out";
            Q_EMIT written(false, tr("the keyring did not answer within %1 s").arg(m_timeoutMs / 1000.0));
        } else if (done->error() != QKeychain::NoError) {
            Q_EMIT written(false, tr("the keyring cannot be written: %1").arg(done->errorString()));
        } else {
            Q_EMIT written(true, {});
        }
    });
}

void PasswordStore::remove(const QString &account)
{
    auto *job = new QKeychain::DeletePasswordJob(service());
    job->setKey(account);
    runGuarded(job, m_timeoutMs, this, [account](QKeychain::Job *done, bool timedOut) {
        if (timedOut || done->error() != QKeychain::NoError)
            qCInfo(lcKeyring) << "could not remove the keyring entry of" << account;
    });
}
